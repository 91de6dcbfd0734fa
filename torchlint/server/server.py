"""The LSP wiring: which messages the server answers, each handed to the session.

Text documents (`.py`, `.pyi`, or any document in the `python` language) and notebook documents
(LSP 3.17 notebook sync, Python cells) are linted on open, on change (debounced) and on save.
A change to a pyproject.toml (saved in the editor, or reported by the client's file watcher)
reloads the settings and lints every open document again.
"""

from __future__ import annotations

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from torchlint import __version__
from torchlint.server import actions
from torchlint.server.hover import hover_markdown
from torchlint.server.positions import contains
from torchlint.server.session import Session
from torchlint.server.settings import WorkspaceSettings, selection_from_options

NOTEBOOK_SYNC = types.NotebookDocumentSyncOptions(
    notebook_selector=[
        types.NotebookDocumentFilterWithCells(notebook="*", cells=[types.NotebookCellLanguage(language="python")])
    ],
    save=True,
)
WATCHED = "**/pyproject.toml"


class TorchlintServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "torchlint",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            notebook_document_sync=NOTEBOOK_SYNC,
        )
        self.session = Session(self)


def build_server() -> TorchlintServer:
    server = TorchlintServer()
    session = server.session

    @server.feature(types.INITIALIZE)
    def initialize(ls: TorchlintServer, params: types.InitializeParams) -> None:
        options = params.initialization_options
        overrides, problem = selection_from_options(options)
        root = ls.workspace.root_path
        session.settings = WorkspaceSettings(overrides, root)
        if isinstance(options, dict) and isinstance(options.get("debounce"), (int, float)):
            session.debounce = max(float(options["debounce"]), 0.0) / 1000  # milliseconds
        if problem:
            ls.window_show_message(
                types.ShowMessageParams(type=types.MessageType.Error, message=f"torchlint: {problem}")
            )

    @server.feature(types.INITIALIZED)
    def initialized(ls: TorchlintServer, params: types.InitializedParams) -> None:
        watching = ls.client_capabilities.workspace and ls.client_capabilities.workspace.did_change_watched_files
        if watching and watching.dynamic_registration:
            registration = types.Registration(
                id="torchlint-pyproject",
                method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                register_options=types.DidChangeWatchedFilesRegistrationOptions(
                    watchers=[types.FileSystemWatcher(glob_pattern=WATCHED)]
                ),
            )
            ls.client_register_capability(types.RegistrationParams(registrations=[registration]))

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: TorchlintServer, params: types.DidOpenTextDocumentParams) -> None:
        uri = params.text_document.uri
        if session.document_of(uri) == uri:
            session.schedule(uri, store=True)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: TorchlintServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        if session.document_of(uri) == uri:
            session.schedule(uri, delay=session.debounce)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(ls: TorchlintServer, params: types.DidSaveTextDocumentParams) -> None:
        uri = params.text_document.uri
        if session.is_config(uri):
            await session.reload_settings()
        elif session.document_of(uri) == uri:
            session.schedule(uri, store=True)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: TorchlintServer, params: types.DidCloseTextDocumentParams) -> None:
        session.close(params.text_document.uri, [params.text_document.uri])

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    def notebook_open(ls: TorchlintServer, params: types.DidOpenNotebookDocumentParams) -> None:
        session.schedule(params.notebook_document.uri, store=True)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def notebook_change(ls: TorchlintServer, params: types.DidChangeNotebookDocumentParams) -> None:
        session.schedule(params.notebook_document.uri, delay=session.debounce)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_SAVE)
    def notebook_save(ls: TorchlintServer, params: types.DidSaveNotebookDocumentParams) -> None:
        session.schedule(params.notebook_document.uri, store=True)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def notebook_close(ls: TorchlintServer, params: types.DidCloseNotebookDocumentParams) -> None:
        session.close(params.notebook_document.uri, [cell.uri for cell in params.cell_text_documents])

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def watched_files(ls: TorchlintServer, params: types.DidChangeWatchedFilesParams) -> None:
        if any(session.is_config(change.uri) for change in params.changes):
            await session.reload_settings()

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=list(actions.KINDS), resolve_provider=True),
    )
    async def code_action(ls: TorchlintServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        uri = params.text_document.uri
        linted = await session.current(uri)
        if linted is None or linted.excluded:
            return None
        only = params.context.only
        result = []
        if actions.wanted(only, types.CodeActionKind.QuickFix):
            result += actions.quick_fixes(linted, uri, params.range, session.units)
        if actions.wanted(only, actions.FIX_ALL_KIND) and actions.has_safe_fix(linted):
            if _can_resolve(ls) and not only:
                result.append(actions.fix_all_action(data={"uri": uri}))
            else:
                texts = await session.fixed_texts(linted)
                if texts:
                    result.append(actions.fix_all_action(edit=actions.fix_all_edit(linted, texts, session.units)))
        return result or None

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(ls: TorchlintServer, action: types.CodeAction) -> types.CodeAction:
        uri = action.data.get("uri") if isinstance(action.data, dict) else None
        if action.kind != actions.FIX_ALL_KIND or not isinstance(uri, str):
            return action
        linted = await session.current(uri)
        if linted is not None and not linted.excluded:
            texts = await session.fixed_texts(linted)
            action.edit = actions.fix_all_edit(linted, texts, session.units)
        return action

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: TorchlintServer, params: types.HoverParams) -> types.Hover | None:
        uri = params.text_document.uri
        linted = await session.current(uri)
        if linted is None or linted.excluded:
            return None
        from torchlint.server.convert import Converter

        converter = Converter(linted.snapshot, session.units)
        here = [d for d in linted.in_part(uri) if contains(converter.range(d), params.position)]
        if not here:
            return None
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=hover_markdown(here)),
            range=converter.range(here[0]),
        )

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: TorchlintServer, *args) -> None:
        session.shutdown()

    return server


def _can_resolve(ls: TorchlintServer) -> bool:
    """Whether the client can fill in a code action's edit later (`codeAction/resolve`)."""
    text = ls.client_capabilities.text_document
    support = text and text.code_action and text.code_action.resolve_support
    return bool(support and "edit" in support.properties)
