"""`torchlint server` end to end: a real server process driven over JSON-RPC by pytest-lsp.

One server serves the module's tests (each opens its own documents); the tests that need their
own settings, or that end the process, start their own.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("pytest_lsp")

import pytest_lsp  # noqa: E402
from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402
from torchlint.registry import lookup  # noqa: E402

SERVER = [sys.executable, "-m", "torchlint", "server"]
TIMEOUT_S = 60  # two shared cores: a cold server start plus a lint can take a while

REPEAT = textwrap.dedent("""\
    import torch
    def f(x, n):
        y = torch.zeros(1, 4).repeat(n, 1)
        return (y * x).sum()
""")
EXPANDED = REPEAT.replace(".repeat(n, 1)", ".expand(n, -1)")

# The module's shared server runs on a module-wide event loop; a test's own server on its own loop.
shared_server = pytest.mark.asyncio(loop_scope="module")
own_server = pytest.mark.asyncio(loop_scope="function")


def _capabilities() -> types.ClientCapabilities:
    capabilities = client_capabilities("visual-studio-code")
    capabilities.notebook_document = types.NotebookDocumentClientCapabilities(
        synchronization=types.NotebookDocumentSyncClientCapabilities()
    )
    return capabilities


async def _initialize(client: LanguageClient, root, options: dict | None = None) -> None:
    client.registrations = []

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register(params: types.RegistrationParams) -> None:  # as an editor with file watching does
        client.registrations.extend(params.registrations)

    await client.initialize_session(
        types.InitializeParams(
            capabilities=_capabilities(),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="ws")],
            initialization_options={"debounce": 0, **(options or {})},
        )
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("workspace")


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), scope="module")
async def client(lsp_client: LanguageClient, workspace):
    await _initialize(lsp_client, workspace)
    yield
    await lsp_client.shutdown_session()


async def until(predicate, what: str):
    """Wait for the server's notifications to make `predicate()` true."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT_S
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def open_file(client: LanguageClient, path, text: str, version: int = 1) -> str:
    uri = path.as_uri()
    client.diagnostics.pop(uri, None)
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", version, text)))
    return uri


async def published(client: LanguageClient, uri: str) -> list[types.Diagnostic]:
    await until(lambda: uri in client.diagnostics, f"diagnostics of {uri}")
    return list(client.diagnostics[uri])


def replace_text(client: LanguageClient, uri: str, version: int, text: str) -> None:
    client.diagnostics.pop(uri, None)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(version=version, uri=uri),
            [types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


def text_in(text: str, span: types.Range) -> str:
    return text[_offset(text, span.start) : _offset(text, span.end)]


def apply(text: str, edits) -> str:
    """Apply LSP text edits (ASCII text: UTF-16 units are characters) the way a client does."""
    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[: _offset(text, edit.range.start)] + edit.new_text + text[_offset(text, edit.range.end) :]
    return text


def _offset(text: str, position: types.Position) -> int:
    lines = text.split("\n")
    return sum(len(line) + 1 for line in lines[: position.line]) + position.character


async def code_actions(client, uri, span, only=None) -> list[types.CodeAction]:
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri),
            range=span,
            context=types.CodeActionContext(diagnostics=[], only=only),
        )
    )
    return list(result or [])


# --- diagnostics ----------------------------------------------------------------------------


@shared_server
async def test_an_open_file_gets_its_finding_at_the_method_name(client: LanguageClient, workspace):
    uri = open_file(client, workspace / "repeat.py", REPEAT)
    (diagnostic,) = await published(client, uri)
    assert diagnostic.code == "TL101"
    assert diagnostic.source == "torchlint"
    assert diagnostic.severity == types.DiagnosticSeverity.Warning
    assert diagnostic.range.start.line == diagnostic.range.end.line == 2
    assert "repeat" in text_in(REPEAT, diagnostic.range)
    assert diagnostic.code_description.href == lookup("TL101").url()
    notes = diagnostic.related_information
    assert notes and all(note.location.uri == uri for note in notes)
    assert any("size 1" in note.message for note in notes)


@shared_server
async def test_changing_the_text_to_the_fixed_version_clears_the_findings(client: LanguageClient, workspace):
    uri = open_file(client, workspace / "changed.py", REPEAT)
    assert [d.code for d in await published(client, uri)] == ["TL101"]
    replace_text(client, uri, 2, EXPANDED)
    assert await published(client, uri) == []
    replace_text(client, uri, 3, REPEAT)  # and back: the finding returns
    assert [d.code for d in await published(client, uri)] == ["TL101"]


@shared_server
async def test_a_syntax_error_is_tl001_at_its_place_and_the_server_keeps_serving(client: LanguageClient, workspace):
    broken = "import torch\n\ndef f(x:\n    return x\n"
    uri = open_file(client, workspace / "broken.py", broken)
    (diagnostic,) = await published(client, uri)
    assert diagnostic.code == "TL001"
    assert diagnostic.severity == types.DiagnosticSeverity.Error
    assert diagnostic.range.start.line == 2
    assert broken.split("\n")[2][diagnostic.range.start.character] == "("
    # Still serving: another document is linted, and requests are answered.
    other = open_file(client, workspace / "after_broken.py", REPEAT)
    assert [d.code for d in await published(client, other)] == ["TL101"]
    assert (
        await client.text_document_hover_async(
            types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(0, 0))
        )
        is None
    )


@shared_server
async def test_columns_are_utf16_code_units_and_crlf_ends_lines(client: LanguageClient, workspace):
    # Two emoji are four UTF-16 units: the finding's column moves by four, not two.
    text = REPEAT.replace("    y = ", "    s = '😋😋'; y = ").replace("\n", "\r\n")
    uri = open_file(client, workspace / "units.py", text)
    (diagnostic,) = await published(client, uri)
    plain = open_file(client, workspace / "plain.py", REPEAT)
    (reference,) = await published(client, plain)
    shift = len("s = '😋😋'; ".encode("utf-16-le")) // 2
    assert diagnostic.range.start.line == reference.range.start.line == 2
    assert diagnostic.range.start.character == reference.range.start.character + shift
    assert diagnostic.range.end.character == reference.range.end.character + shift


@shared_server
async def test_an_unused_suppression_is_marked_unnecessary(client: LanguageClient, workspace):
    text = "x = 1  # noqa: TL101\n"
    uri = open_file(client, workspace / "unused.py", text)
    (diagnostic,) = await published(client, uri)
    assert diagnostic.code == "TL003"
    assert list(diagnostic.tags) == [types.DiagnosticTag.Unnecessary]


# --- code actions -------------------------------------------------------------------------


@shared_server
async def test_the_quick_fix_edit_gives_the_fixed_text(client: LanguageClient, workspace):
    uri = open_file(client, workspace / "quickfix.py", REPEAT)
    (diagnostic,) = await published(client, uri)
    actions = await code_actions(client, uri, diagnostic.range)
    fixes = [a for a in actions if a.kind == types.CodeActionKind.QuickFix and "noqa" not in a.title]
    (fix,) = fixes
    assert fix.title.startswith("TL101")
    assert fix.is_preferred and "unsafe" not in fix.title
    assert apply(REPEAT, fix.edit.changes[uri]) == EXPANDED


@shared_server
async def test_an_unsafe_fix_is_offered_marked_and_left_out_of_fix_all(client: LanguageClient, workspace):
    text = "import torch\ndef f(x):\n    B, N, C = x.shape\n    return x.transpose(1, 2).view(B, -1)\n"
    uri = open_file(client, workspace / "unsafe.py", text)
    (diagnostic,) = await published(client, uri)
    assert diagnostic.code == "TL103"
    (fix,) = [
        a
        for a in await code_actions(client, uri, diagnostic.range)
        if a.title.startswith("TL103: ") and "noqa" not in a.title
    ]
    assert "unsafe" in fix.title and not fix.is_preferred
    assert apply(text, fix.edit.changes[uri]) == text.replace(".view(B, -1)", ".reshape(B, -1)")
    whole = types.Range(types.Position(0, 0), types.Position(0, 0))
    assert await code_actions(client, uri, whole, only=["source.fixAll.torchlint"]) == []


@shared_server
async def test_no_actions_away_from_a_finding(client: LanguageClient, workspace):
    uri = open_file(client, workspace / "away.py", REPEAT)
    await published(client, uri)
    line0 = types.Range(types.Position(0, 0), types.Position(0, 3))
    assert [a for a in await code_actions(client, uri, line0) if a.kind == types.CodeActionKind.QuickFix] == []


@shared_server
async def test_fix_all_applies_every_safe_fix_in_the_file(client: LanguageClient, workspace):
    text = REPEAT + REPEAT.replace("def f(", "def g(").replace("import torch\n", "")
    uri = open_file(client, workspace / "fixall.py", text)
    assert len(await published(client, uri)) == 2
    whole = types.Range(types.Position(0, 0), types.Position(0, 0))
    (action,) = await code_actions(client, uri, whole, only=["source.fixAll.torchlint"])
    assert action.kind == "source.fixAll.torchlint"
    assert apply(text, action.edit.changes[uri]) == text.replace(".repeat(n, 1)", ".expand(n, -1)")


@shared_server
async def test_fix_all_is_resolved_lazily_when_the_client_can(client: LanguageClient, workspace):
    uri = open_file(client, workspace / "resolve.py", REPEAT)
    (diagnostic,) = await published(client, uri)
    (lazy,) = [a for a in await code_actions(client, uri, diagnostic.range) if a.kind == "source.fixAll.torchlint"]
    assert lazy.edit is None
    resolved = await client.code_action_resolve_async(lazy)
    assert apply(REPEAT, resolved.edit.changes[uri]) == EXPANDED


@shared_server
async def test_suppressing_with_noqa_silences_the_finding(client: LanguageClient, workspace):
    uri = open_file(client, workspace / "noqa.py", REPEAT)
    (diagnostic,) = await published(client, uri)
    (noqa,) = [a for a in await code_actions(client, uri, diagnostic.range) if "noqa" in a.title]
    suppressed = apply(REPEAT, noqa.edit.changes[uri])
    assert suppressed.split("\n")[2] == "    y = torch.zeros(1, 4).repeat(n, 1)  # noqa: TL101"
    replace_text(client, uri, 2, suppressed)
    assert await published(client, uri) == []


@shared_server
async def test_noqa_merges_into_an_existing_noqa_comment(client: LanguageClient, workspace):
    text = REPEAT.replace(".repeat(n, 1)", ".repeat(n, 1)  # noqa: E501")
    uri = open_file(client, workspace / "merge.py", text)
    (diagnostic,) = await published(client, uri)
    (noqa,) = [a for a in await code_actions(client, uri, diagnostic.range) if "noqa" in a.title]
    assert apply(text, noqa.edit.changes[uri]).split("\n")[2].endswith("# noqa: E501, TL101")


@pytest.mark.parametrize(
    ("line", "suppressed"),
    [
        ("y = x.repeat(n, 1)", "y = x.repeat(n, 1)  # noqa: TL101"),
        ("y = x.repeat(n, 1)   ", "y = x.repeat(n, 1)  # noqa: TL101"),
        ("y = x.repeat(n, 1)  # keep me", "y = x.repeat(n, 1)  # keep me  # noqa: TL101"),
        ("y = x.repeat(n, 1)  # noqa: E501,B950", "y = x.repeat(n, 1)  # noqa: E501,B950, TL101"),
        ("s = '# noqa: E501'; y = x.repeat(n, 1)", "s = '# noqa: E501'; y = x.repeat(n, 1)  # noqa: TL101"),
        ("y = x.repeat(n, 1)  # noqa: TL101", None),  # already there
    ],
)
def test_the_noqa_edit(line, suppressed):
    from torchlint.add_noqa import noqa_edits_in
    from torchlint.fixes import apply_edits

    text = f"import torch\n{line}\n"
    edits = noqa_edits_in(text, text, {2: {"TL101"}})
    if suppressed is None:
        assert edits == []
    else:
        assert apply_edits(text, edits).split("\n")[1] == suppressed


@pytest.mark.parametrize(
    ("text", "last"),
    [("y = x.repeat(n, \\\n    1)\n", 3), ('y = f(x.repeat(n, 1), """\ntext\n""")\n', 4)],
    ids=["backslash", "multi-line-string"],
)
def test_a_noqa_for_a_line_that_cannot_end_in_a_comment_goes_on_the_last_line_of_its_run(text, last):
    from torchlint.add_noqa import noqa_edits_in
    from torchlint.fixes import apply_edits

    text = "import torch\n" + text
    lines = apply_edits(text, noqa_edits_in(text, text, {2: {"TL101"}})).split("\n")
    assert lines[1] == text.split("\n")[1]
    assert lines[last - 1].endswith("  # noqa: TL101")


# --- hover --------------------------------------------------------------------------------


@shared_server
async def test_hover_on_a_finding_shows_the_rule_docs(client: LanguageClient, workspace):
    uri = open_file(client, workspace / "hover.py", REPEAT)
    (diagnostic,) = await published(client, uri)
    hover = await client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri), diagnostic.range.start)
    )
    assert hover.contents.kind == types.MarkupKind.Markdown
    markdown = hover.contents.value
    for heading in ("### What it does", "### Why is this bad?", "### Example", "### Use instead"):
        assert heading in markdown
    assert markdown.startswith("**TL101**")
    assert "```python" in markdown
    elsewhere = types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(0, 0))
    assert await client.text_document_hover_async(elsewhere) is None


# --- notebooks ----------------------------------------------------------------------------

LEAKY_CELLS = [
    (
        types.NotebookCellKind.Code,
        "%matplotlib inline\nfrom sklearn.model_selection import train_test_split\n"
        "from sklearn.preprocessing import StandardScaler\nX_train, X_test, y_train, y_test = train_test_split(X, y)\n",
    ),
    (types.NotebookCellKind.Markup, "## Scale the features"),
    (
        types.NotebookCellKind.Code,
        "scaler = StandardScaler()\nX_train = scaler.fit_transform(X_train)\nX_test = scaler.fit_transform(X_test)\n",
    ),
]


def open_notebook(client: LanguageClient, path, cells) -> list[str]:
    uri = path.as_uri()
    cell_uris = [f"vscode-notebook-cell:{path}#cell{index}" for index in range(len(cells))]
    client.notebook_document_did_open(
        types.DidOpenNotebookDocumentParams(
            notebook_document=types.NotebookDocument(
                uri=uri,
                notebook_type="jupyter-notebook",
                version=1,
                cells=[
                    types.NotebookCell(kind=kind, document=cell_uri)
                    for (kind, _), cell_uri in zip(cells, cell_uris, strict=True)
                ],
            ),
            cell_text_documents=[
                types.TextDocumentItem(
                    cell_uri, "python" if kind == types.NotebookCellKind.Code else "markdown", 1, text
                )
                for (kind, text), cell_uri in zip(cells, cell_uris, strict=True)
            ],
        )
    )
    return cell_uris


@shared_server
async def test_a_notebook_leak_across_cells_is_reported_on_the_right_cell(client: LanguageClient, workspace):
    first, markdown, third = open_notebook(client, workspace / "leak.ipynb", LEAKY_CELLS)
    await until(lambda: {first, markdown, third} <= set(client.diagnostics), "the cells' diagnostics")
    assert list(client.diagnostics[first]) == list(client.diagnostics[markdown]) == []
    (diagnostic,) = client.diagnostics[third]
    assert diagnostic.code == "TL301"
    assert diagnostic.range.start.line == 2  # the cell's own third line
    assert "fit_transform" in text_in(LEAKY_CELLS[2][1], diagnostic.range)


@shared_server
async def test_editing_a_notebook_cell_relints_the_notebook(client: LanguageClient, workspace):
    path = workspace / "edited.ipynb"
    first, _, third = open_notebook(client, path, LEAKY_CELLS)
    await until(lambda: client.diagnostics.get(third), "the leak")
    fixed = LEAKY_CELLS[2][1].replace("X_test = scaler.fit_transform", "X_test = scaler.transform")
    client.diagnostics.pop(third)
    client.notebook_document_did_change(
        types.DidChangeNotebookDocumentParams(
            notebook_document=types.VersionedNotebookDocumentIdentifier(version=2, uri=path.as_uri()),
            change=types.NotebookDocumentChangeEvent(
                cells=types.NotebookDocumentCellChanges(
                    text_content=[
                        types.NotebookDocumentCellContentChanges(
                            document=types.VersionedTextDocumentIdentifier(version=2, uri=third),
                            changes=[types.TextDocumentContentChangeWholeDocument(text=fixed)],
                        )
                    ]
                )
            ),
        )
    )
    assert await published(client, third) == []


@shared_server
async def test_a_cell_added_to_an_empty_notebook_is_linted(client: LanguageClient, workspace):
    path = workspace / "grown.ipynb"
    open_notebook(client, path, [])
    cell = f"vscode-notebook-cell:{path}#added"
    client.notebook_document_did_change(
        types.DidChangeNotebookDocumentParams(
            notebook_document=types.VersionedNotebookDocumentIdentifier(version=2, uri=path.as_uri()),
            change=types.NotebookDocumentChangeEvent(
                cells=types.NotebookDocumentCellChanges(
                    structure=types.NotebookDocumentCellChangeStructure(
                        array=types.NotebookCellArrayChange(
                            start=0, delete_count=0, cells=[types.NotebookCell(types.NotebookCellKind.Code, cell)]
                        ),
                        did_open=[types.TextDocumentItem(cell, "python", 1, REPEAT)],
                    )
                )
            ),
        )
    )
    assert [d.code for d in await published(client, cell)] == ["TL101"]


@shared_server
async def test_a_notebook_cell_quick_fix_edits_that_cell(client: LanguageClient, workspace):
    cells = [
        (types.NotebookCellKind.Code, "import torch\n"),
        (types.NotebookCellKind.Code, REPEAT.replace("import torch\n", "")),
    ]
    _, second = open_notebook(client, workspace / "fix.ipynb", cells)
    (diagnostic,) = await published(client, second)
    (fix,) = [
        a
        for a in await code_actions(client, second, diagnostic.range)
        if a.title.startswith("TL101: ") and "noqa" not in a.title
    ]
    assert list(fix.edit.changes) == [second]
    assert apply(cells[1][1], fix.edit.changes[second]) == EXPANDED.replace("import torch\n", "")


@shared_server
async def test_fix_all_in_a_notebook_edits_only_the_cells_it_fixes(client: LanguageClient, workspace):
    body = REPEAT.replace("import torch\n", "")
    cells = [
        (types.NotebookCellKind.Code, "import torch\n"),
        (types.NotebookCellKind.Code, body),
        (types.NotebookCellKind.Markup, "text"),
        (types.NotebookCellKind.Code, body.replace("def f(", "def g(")),
    ]
    uris = open_notebook(client, workspace / "fixall.ipynb", cells)
    await until(lambda: client.diagnostics.get(uris[1]) and client.diagnostics.get(uris[3]), "both findings")
    whole = types.Range(types.Position(0, 0), types.Position(0, 0))
    (action,) = await code_actions(client, uris[1], whole, only=["source.fixAll.torchlint"])
    changes = action.edit.changes
    assert sorted(changes) == sorted([uris[1], uris[3]])
    assert apply(cells[1][1], changes[uris[1]]) == body.replace(".repeat(n, 1)", ".expand(n, -1)")
    assert apply(cells[3][1], changes[uris[3]]) == cells[3][1].replace(".repeat(n, 1)", ".expand(n, -1)")


@shared_server
async def test_closing_documents_clears_their_findings(client: LanguageClient, workspace):
    uri = open_file(client, workspace / "closed.py", REPEAT)
    assert await published(client, uri)
    client.diagnostics.pop(uri)
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))
    assert await published(client, uri) == []

    path = workspace / "closed.ipynb"
    cells = open_notebook(client, path, LEAKY_CELLS)
    await until(lambda: client.diagnostics.get(cells[2]), "the leak")
    client.diagnostics.pop(cells[2])
    client.notebook_document_did_close(
        types.DidCloseNotebookDocumentParams(
            notebook_document=types.NotebookDocumentIdentifier(uri=path.as_uri()),
            cell_text_documents=[types.TextDocumentIdentifier(cell) for cell in cells],
        )
    )
    assert await published(client, cells[2]) == []


# --- settings -----------------------------------------------------------------------------


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def configured(lsp_client: LanguageClient, tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.torchlint]\nextend-exclude = ["generated"]\n'
        '[tool.torchlint.per-file-ignores]\n"legacy_*.py" = ["TL101"]\n'
    )
    await _initialize(lsp_client, tmp_path, {"ignore": ["TL003"]})
    yield
    await lsp_client.shutdown_session()


@own_server
async def test_settings_come_from_the_nearest_pyproject_and_reload_when_it_changes(
    configured: LanguageClient, tmp_path
):
    client = configured
    assert [d.code for d in await published(client, open_file(client, tmp_path / "model.py", REPEAT))] == ["TL101"]
    assert await published(client, open_file(client, tmp_path / "legacy_model.py", REPEAT)) == []
    (tmp_path / "generated").mkdir()
    assert await published(client, open_file(client, tmp_path / "generated" / "out.py", REPEAT)) == []
    # The initializationOptions' `ignore` applies on top of the config.
    assert await published(client, open_file(client, tmp_path / "unused.py", "x = 1  # noqa: TL101\n")) == []

    await until(lambda: client.registrations, "the pyproject.toml watcher")
    (watcher,) = client.registrations[0].register_options["watchers"]  # `LSPAny`: plain JSON here
    assert watcher["globPattern"] == "**/pyproject.toml"
    (tmp_path / "pyproject.toml").write_text('[tool.torchlint]\nignore = ["TL101"]\n')
    uri = (tmp_path / "model.py").as_uri()
    client.diagnostics.pop(uri)
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=(tmp_path / "pyproject.toml").as_uri(), type=types.FileChangeType.Changed)]
        )
    )
    assert await published(client, uri) == []


# --- the process ------------------------------------------------------------------------------


@own_server
async def test_shutdown_then_exit_ends_the_process_cleanly(tmp_path):
    client = await ClientServerConfig(server_command=SERVER).start()
    try:
        await _initialize(client, tmp_path)
        await client.shutdown_async(None)
        client.exit(None)
        assert await asyncio.wait_for(client._server.wait(), TIMEOUT_S) == 0
    finally:
        await client.stop()


MODULES_AT_EXIT = """
import atexit, sys
OUT = sys.argv.pop()
def dump():
    with open(OUT, "w") as out:
        out.write("\\n".join(sorted(sys.modules)))
atexit.register(dump)
from torchlint.cli import main
sys.argv[1:] = ["server"]
main()
"""


@own_server
async def test_the_server_never_imports_torch(tmp_path):
    modules = tmp_path / "modules.txt"
    command = [sys.executable, "-c", MODULES_AT_EXIT, str(modules)]
    client = await ClientServerConfig(server_command=command).start()
    try:
        await _initialize(client, tmp_path)
        code = REPEAT + "from sklearn.preprocessing import StandardScaler\nimport numpy, pandas\n"
        uri = open_file(client, tmp_path / "m.py", code)
        (diagnostic, *_) = await published(client, uri)
        await code_actions(client, uri, diagnostic.range, only=["source.fixAll.torchlint"])
        await client.text_document_hover_async(
            types.HoverParams(types.TextDocumentIdentifier(uri), diagnostic.range.start)
        )
        await client.shutdown_session()
    finally:
        await client.stop()
    loaded = set(modules.read_text().split())
    assert "torchlint.server.server" in loaded  # the probe saw the server run
    assert not {"torch", "sklearn", "numpy", "pandas"} & loaded


def test_the_server_command_explains_a_missing_extra():
    probe = (
        "import sys; sys.modules['pygls'] = None\n"
        "from torchlint.cli import main\nsys.argv = ['torchlint', 'server']\nmain()\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=TIMEOUT_S)
    assert result.returncode != 0
    assert "torchlint[server]" in result.stderr


def test_the_server_package_is_not_imported_by_static_checks():
    probe = "import sys\nfrom torchlint.cli import main\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", "import json\n" + probe], capture_output=True, text=True, timeout=TIMEOUT_S
    )
    loaded = set(json.loads(result.stdout))
    assert not any(name.startswith(("pygls", "lsprotocol", "torchlint.server")) for name in loaded)


def test_opened_or_saved_text_is_cached_and_typed_text_is_not(tmp_path, monkeypatch):
    import torchlint.engine
    from torchlint.config import SelectionLayer
    from torchlint.server.documents import python_snapshot
    from torchlint.server.linting import Linter
    from torchlint.server.settings import WorkspaceSettings

    (tmp_path / "pyproject.toml").write_text("[tool.torchlint]\n")
    path = str(tmp_path / "m.py")
    settings = WorkspaceSettings(SelectionLayer()).for_path(path).settings
    saved, typed = python_snapshot("file:///m.py", 1, path, REPEAT), python_snapshot("file:///m.py", 2, path, EXPANDED)
    Linter().lint(saved, settings, store=True)
    Linter().lint(typed, settings)
    assert (tmp_path / ".torchlint_cache" / "CACHEDIR.TAG").exists()

    def no_engine(*args, **kwargs):
        raise AssertionError("linted again")

    monkeypatch.setattr(torchlint.engine, "lint_file", no_engine)
    assert [d.code for d in Linter().lint(saved, settings).diagnostics] == ["TL101"]
    with pytest.raises(AssertionError, match="linted again"):
        Linter().lint(typed, settings)


def test_a_lint_pauses_garbage_collection_until_the_collection_queued_behind_it():
    import gc

    from torchlint.server.documents import python_snapshot
    from torchlint.server.session import Session

    session = Session(server=None)  # linting a snapshot needs no client
    snapshot = python_snapshot("untitled:Untitled-1", 1, None, REPEAT)
    assert gc.isenabled()
    try:
        linted, problem = session._lint_snapshot(snapshot, False)
        assert not gc.isenabled()  # no collection while the findings are still on their way
        assert [d.code for d in linted.diagnostics] == ["TL101"] and problem is None
    finally:
        session._collect()
        frozen = gc.get_freeze_count()
        gc.unfreeze()  # the rest of the test session keeps an ordinary collector
    assert gc.isenabled()
    assert frozen > 0  # what outlives the first lint is out of the collector's sight
