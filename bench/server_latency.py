"""Latency of `torchlint server`: a 1,000-line file re-linted after an edit.

    python bench/server_latency.py                 # 1,000 lines, 20 edits
    python bench/server_latency.py --lines 3000 --edits 50
    python bench/server_latency.py --check-reparse DIR   # the statement-wise reparse is exact on DIR's files

Two figures, both for the same generated file (tensor code, training loops, datasets and
preprocessing, with findings of several rules), edited one line at a time:

- in-process: the server's own lint step on the edited text (`Linter.lint`, the engine run the
  server makes per change: settings looked up, cache consulted, findings converted to LSP
  diagnostics), wall time (`time.perf_counter`) and CPU time (`time.process_time`, less
  sensitive to other processes on a shared machine); then the same with every edit parsed
  whole (no statement reused), which shows what the analysis itself costs above the parse;
- end to end: a real `torchlint server` process over stdio; each edit is a `textDocument/didChange`
  and the clock stops when the `publishDiagnostics` for that version arrives (the debounce is
  set to 0 through `initializationOptions`, so the figure is the server's work plus JSON-RPC);
  with the server process's CPU time over the same interval where Linux's /proc gives it.

The server parses an edited document again by top-level statement, reusing the statements the
edit did not touch (`torchlint.server.reparse`); `--check-reparse DIR` checks, for every `.py`
file under DIR and four edits of it, that the module it builds equals LibCST's whole-file parse.

Needs the `server` extra (pygls). Prints the median, 90th percentile and worst case in ms, with
LibCST's parse of the whole file as the yardstick to compare against on a shared machine (a
whole-file lint cannot go below it; the server's re-lint after an edit parses less, and can);
the target is a median of at most 300 ms end to end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time

# Ordinary code: what most of a real file is (models, data, a correct training loop).
CLEAN_BLOCK = """\
class Block{i}(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        h = self.fc1(self.norm(x))
        h = torch.nn.functional.gelu(h)
        return x + self.fc2(h)


def add_tokens{i}(tokens, cls_token):
    batch = tokens.shape[0]
    cls = cls_token.unsqueeze(0).expand(batch, -1, -1)
    return torch.cat([cls, tokens], dim=1)


def train{i}(model, loader, optimizer, epochs=3):
    model.train()
    for epoch in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()


def prepare{i}(X, y):
    X_train, X_test, y_train, y_test = train_test_split(X, y)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


"""
# Mistakes of four rules: one such block per `--mistakes-every` lines (or only these: --dense).
MISTAKES_BLOCK = """\
class Items{i}(Dataset):
    def __getitem__(self, index):
        return index


def shapes{i}(x, cls_token, n):
    y = x.transpose(0, 1)
    z = y.reshape(-1)
    w = cls_token.unsqueeze(0).repeat(n, 1, 1)
    return z, (w * 2).sum()


def leaky{i}(X, y):
    X = StandardScaler().fit_transform(X)
    return train_test_split(X, y)


"""
HEADER = (
    "import torch\nfrom torch import nn\nfrom torch.utils.data import Dataset\n"
    "from sklearn.model_selection import train_test_split\nfrom sklearn.preprocessing import StandardScaler\n\n\n"
)


def generated_file(lines: int, mistakes_every: int) -> str:
    """`lines` lines of ordinary code with a block of mistakes every `mistakes_every` lines (0: only mistakes)."""
    text, index, since = HEADER, 0, 0
    while text.count("\n") < lines:
        if mistakes_every == 0 or since >= mistakes_every:
            text, since = text + MISTAKES_BLOCK.format(i=index), 0
        else:
            block = CLEAN_BLOCK.format(i=index)
            text, since = text + block, since + block.count("\n")
        index += 1
    return "\n".join(text.split("\n")[:lines]) + "\n"


def edited(text: str, number: int) -> str:
    """The text with one line changed, as typing would (a comment at the end grows by one)."""
    return text + f"# edit {number}\n"


def summary(samples_ms: list[float]) -> str:
    ordered = sorted(samples_ms)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    median, worst = statistics.median(ordered), ordered[-1]
    return f"median {median:7.1f} ms   p90 {p90:7.1f} ms   worst {worst:7.1f} ms   (n={len(ordered)})"


def parse_floor(text: str, runs: int) -> list[float]:
    """LibCST's parse of the whole text: what a linter built on it pays to lint the file from
    scratch. On a busy machine every figure grows; their ratio to this one is what to compare
    across runs."""
    import libcst

    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        libcst.parse_module(text)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def in_process(path: str, text: str, edits: int, reuse_parses: bool = True) -> tuple[list[float], list[float], int]:
    from torchlint.config import SelectionLayer
    from torchlint.server.convert import published
    from torchlint.server.documents import python_snapshot
    from torchlint.server.linting import Linter
    from torchlint.server.settings import WorkspaceSettings

    settings = WorkspaceSettings(SelectionLayer())
    linter = Linter(reuse_parses=reuse_parses)
    uri = "file://" + path
    linted = linter.lint(python_snapshot(uri, 0, path, text), settings.for_path(path).settings)  # warm-up: imports
    samples, cpu = [], []
    for number in range(1, edits + 1):
        start, start_cpu = time.perf_counter(), time.process_time()
        snapshot = python_snapshot(uri, number, path, edited(text, number))
        linted = linter.lint(snapshot, settings.for_path(path).settings)
        published(linted, len)
        samples.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return samples, cpu, len(linted.diagnostics)


async def end_to_end(path: str, text: str, edits: int) -> tuple[list[float], float, int]:
    from lsprotocol import types
    from pygls.lsp.client import LanguageClient

    client = LanguageClient("server-latency", "1")
    arrived: dict[int, float] = {}
    counts: dict[int, int] = {}
    event = asyncio.Event()

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
        arrived[params.version] = time.perf_counter()
        counts[params.version] = len(params.diagnostics)
        event.set()

    async def version_published(version: int) -> float:
        while version not in arrived:
            event.clear()
            await asyncio.wait_for(event.wait(), 120)
        return arrived[version]

    started = time.perf_counter()
    await client.start_io(sys.executable, "-m", "torchlint", "server")
    server = getattr(client, "_server", None)  # the server's process, for its CPU time
    root = os.path.dirname(path)
    await client.initialize_async(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            root_uri="file://" + root,
            initialization_options={"debounce": 0},
        )
    )
    client.initialized(types.InitializedParams())
    uri = "file://" + path
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", 0, text)))
    first = await version_published(0) - started
    samples, cpu = [], []
    for number in range(1, edits + 1):
        sent, sent_cpu = time.perf_counter(), process_cpu_ms(server)
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(version=number, uri=uri),
                [types.TextDocumentContentChangeWholeDocument(text=edited(text, number))],
            )
        )
        samples.append((await version_published(number) - sent) * 1000)
        if sent_cpu is not None:
            cpu.append(process_cpu_ms(server) - sent_cpu)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return samples, cpu, first * 1000, counts[edits]


def process_cpu_ms(process) -> float | None:
    """CPU time (user + system) a child process has used so far, from Linux's /proc; else None.

    In clock ticks (usually 10 ms): a median over many edits is what to read.
    """
    try:
        with open(f"/proc/{process.pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")
    except (AttributeError, OSError, ValueError, IndexError):
        return None


def check_reparse(root: str) -> int:
    """Compare the statement-wise reparse with the whole-file parse on every `.py` file under `root`."""
    import ast

    import libcst

    from torchlint.server.reparse import Reparser

    compared = whole = reused = 0
    different = []
    for folder, _, names in sorted(os.walk(root)):
        for name in sorted(names):
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            try:
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
            except (OSError, UnicodeDecodeError):
                continue
            reparser = Reparser()
            for version in edits_of(text):
                try:
                    tree, expected = ast.parse(version), libcst.parse_module(version)
                except Exception:  # not Python that both parsers take: the engine parses it whole
                    continue
                module = reparser(version, tree)
                compared += 1
                if module is None:
                    whole += 1
                elif not module.deep_equals(expected) or module.code != expected.code:
                    different.append(path)
                else:
                    reused += reparser.reused
    print(f"{compared} versions compared: {compared - whole - len(different)} equal, {whole} parsed whole, "
          f"{len(different)} different; {reused} statement pieces reused")
    for path in different:
        print(f"  different: {path}")
    return 1 if different else 0


def edits_of(text: str) -> list[str]:
    """The text, then as typing changes it: a comment at the end, a line inserted in the middle
    (a comment, an indented comment, a statement), each on the version before's parse."""
    lines = text.split("\n")
    middle = len(lines) // 2
    return [
        text,
        edited(text, 1),
        "\n".join(lines[:middle] + ["# edited"] + lines[middle:]),
        "\n".join(lines[:middle] + ["    # an indented comment"] + lines[middle:]),
        "\n".join(lines[:middle] + ["x = 1"] + lines[middle:]),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--mistakes-every", type=int, default=200, help="lines between blocks of mistakes")
    parser.add_argument("--dense", action="store_true", help="mistakes only (about 13 findings per 100 lines)")
    parser.add_argument("--check-reparse", metavar="DIR", help="check the statement-wise reparse on DIR's files instead")
    args = parser.parse_args()
    if args.check_reparse:
        return check_reparse(args.check_reparse)
    text = generated_file(args.lines, 0 if args.dense else args.mistakes_every)
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "busy.py")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(
            f"file: {text.count(chr(10))} lines; {args.edits} edits; python {sys.version.split()[0]}; "
            f"{os.cpu_count()} CPUs, load average {load:.1f}"
        )
        floor = parse_floor(text, args.edits)
        print(f"libcst.parse_module (whole file):  {summary(floor)}")
        samples, cpu, findings = in_process(path, text, args.edits)
        print(f"in-process lint + conversion:      {summary(samples)}   {findings} findings")
        print(f"  (its CPU time):                  {summary(cpu)}")
        samples, cpu, _ = in_process(path, text, args.edits, reuse_parses=False)
        print(f"  the same, every edit parsed whole: {summary(samples)}")
        print(f"  (its CPU time):                  {summary(cpu)}")
        samples, cpu, first, findings = asyncio.run(end_to_end(path, text, args.edits))
        print(f"end to end (didChange -> publish): {summary(samples)}   {findings} findings")
        if cpu:
            print(f"  (the server's CPU time):         {summary(cpu)}")
        print(f"server start + first lint on open: {first:7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
