"""Fuzz the engine and the output formats with generated programs and mutants of real files.

Inputs: programs from hypothesmith (grammar- and node-based) and mutants of real files taken from
`--corpus DIR` (any tree of .py files, e.g. a repository exported with `git archive`): lines
deleted, duplicated, swapped, truncated, random bytes, line-break characters Python's tokenizer
does not split on, deep nesting (brackets, chained calls, operators, blocks), huge files, bad
encodings, control characters, and notebooks made of the mutant's lines.

Each input is written to a file and linted in a child process by `lint_file`, then rendered in
every output format; a child that dies is a crash, one that takes longer than `--hang-after`
seconds is a hang (it is killed and a fresh child takes the next input), an internal-error
finding (TL004) or an exception while rendering is a traceback. At the end, `--cli-sample` of the
inputs are checked together by the real command (`python -m torchlint check -j 2`).

    python bench/fuzz.py --inputs 10000 --corpus DIR [--seed 0] [--time-limit SECONDS]

Prints one table row per input kind, then `RESULT inputs=… crashes=… hangs=… tracebacks=…`.
Exits 1 if anything crashed, hung or raised.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import time
import warnings
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

LINE_BREAKS = ["\f", "\v", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
CONTROL = ["\x1b[2J", "\x1b]8;;http:x\x07", "\x00", "\x07", "\u202e", "\r"]
SNIPPETS = [
    "import torch\n",
    "y = x.repeat(2, 1)\n",
    "z = x.view(-1)\n",
    "from torch.utils.data import Dataset\nclass D(Dataset):\n    def __getitem__(self, i): return i\n",
    "for batch in loader:\n    loss.backward()\n    opt.step()\n",
    "scaler.fit(X_test)\n",
    "%matplotlib inline\n",
    "!pip install torch\n",
    "# noqa: TL101\n",
    "# torchlint: file-ignore[TL401]\n",
    "type A = int\n",
    "match x:\n    case 1: pass\n",
]


# --- inputs ---------------------------------------------------------------------------------


def corpus_files(corpus: str | None, limit: int = 5000) -> list[str]:
    found: list[str] = []
    if not corpus:
        return found
    for root, dirs, files in os.walk(corpus):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(".py"):
                found.append(os.path.join(root, name))
                if len(found) >= limit:
                    return found
    return found


def _read(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read(400_000)
        return data.decode("utf-8", "replace")
    except OSError:
        return "x = 1\n"


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True) or ["\n"]


def mutate(text: str, rng: random.Random) -> tuple[str, str, bytes]:
    """(operator name, file suffix, bytes) for one mutant of `text`."""
    lines = _lines(text)
    operator = rng.choice(MUTATIONS)
    name = operator.__name__.lstrip("_")
    suffix, data = operator(text, lines, rng)
    return name, suffix, data


def _delete_lines(text, lines, rng):
    start = rng.randrange(len(lines))
    del lines[start : start + rng.randint(1, 5)]
    return ".py", "".join(lines).encode()


def _duplicate_line(text, lines, rng):
    index = rng.randrange(len(lines))
    lines.insert(index, lines[index])
    return ".py", "".join(lines).encode()


def _swap_lines(text, lines, rng):
    a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[a], lines[b] = lines[b], lines[a]
    return ".py", "".join(lines).encode()


def _truncate(text, lines, rng):
    return ".py", text[: rng.randrange(len(text) + 1)].encode()


def _random_bytes(text, lines, rng):
    data = bytearray(text.encode())
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(len(data) + 1) : rng.randrange(len(data) + 1)] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
    return ".py", bytes(data)


def _delete_chars(text, lines, rng):
    chars = list(text)
    for _ in range(rng.randint(1, 10)):
        if chars:
            del chars[rng.randrange(len(chars))]
    return ".py", "".join(chars).encode()


def _line_breaks(text, lines, rng):
    chars = list(text)
    for _ in range(rng.randint(1, 6)):
        chars.insert(rng.randrange(len(chars) + 1), rng.choice(LINE_BREAKS))
    return ".py", "".join(chars).encode("utf-8", "surrogatepass")


def _control_characters(text, lines, rng):
    index = rng.randrange(len(lines))
    lines.insert(index, f"s = '{rng.choice(CONTROL)}'  # {rng.choice(CONTROL)}\n")
    return ".py", "".join(lines).encode()


def _insert_snippet(text, lines, rng):
    lines.insert(rng.randrange(len(lines) + 1), rng.choice(SNIPPETS))
    return ".py", "".join(lines).encode()


def _deep_brackets(text, lines, rng):
    depth = rng.choice([50, 199, 201, 400, 1500, 3000])
    opening, closing = rng.choice([("(", ")"), ("[", "]"), ("{", "}"), ("f(", ")")])
    lines.insert(rng.randrange(len(lines) + 1), "x = " + opening * depth + "1" + closing * depth + "\n")
    return ".py", "".join(lines).encode()


def _chained_calls(text, lines, rng):
    count = rng.choice([100, 400, 600, 1000, 2000, 3000])
    lines.insert(rng.randrange(len(lines) + 1), "y = x" + ".repeat(2)" * count + rng.choice(["", " +"]) + "\n")
    return ".py", ("import torch\n" + "".join(lines)).encode()


def _operator_chain(text, lines, rng):
    count = rng.choice([500, 1000, 3000, 10000])
    operator = rng.choice([" + ", " and ", " if c else ", " < ", "**"])
    lines.append("z = " + operator.join(["a"] * count) + "\n")
    return ".py", "".join(lines).encode()


def _deep_blocks(text, lines, rng):
    depth = rng.choice([20, 99, 100, 150])
    block = "".join(" " * i + "if c:\n" for i in range(depth)) + " " * depth + "pass\n"
    return ".py", (text + "\n" + block).encode()


LARGE_SIZE = 150_000  # `--large-size`: the huge-file mutant that is still analysed


def _huge_file(text, lines, rng):
    target = rng.choice([LARGE_SIZE, 3_000_000, 8_000_000])  # analysed, and over the 2 MB default limit
    repeated = (text + "\n") * (target // max(1, len(text) + 1) + 1)
    return ".py", repeated[:target].encode()


def _bad_encoding(text, lines, rng):
    choice = rng.randrange(4)
    if choice == 0:
        return ".py", b"# -*- coding: latin-1 -*-\n" + text.encode("latin-1", "replace")
    if choice == 1:
        return ".py", b"\xef\xbb\xbf# coding: latin-1\n" + text.encode()
    if choice == 2:
        return ".py", b"# coding: nonsense\n" + text.encode()
    return ".py", text.encode("utf-16")


def _notebook(text, lines, rng):
    cells = []
    index = 0
    while index < len(lines):
        size = rng.randint(1, 20)
        cells.append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": lines[index : index + size]})
        index += size
    if rng.random() < 0.3:
        cells.append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 1, "source": [rng.choice(SNIPPETS)]})
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    data = json.dumps(notebook, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
    if rng.random() < 0.2:
        data = data[: rng.randrange(len(data) + 1)]
    return ".ipynb", data


MUTATIONS = [
    _delete_lines, _duplicate_line, _swap_lines, _truncate, _random_bytes, _delete_chars, _line_breaks,
    _control_characters, _insert_snippet, _deep_brackets, _chained_calls, _operator_chain, _deep_blocks,
    _huge_file, _bad_encoding, _notebook,
]


class Programs:
    """hypothesmith programs, generated in batches (each strategy draw costs ~0.1-1 s)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.pending: dict[str, list[str]] = defaultdict(list)
        self.batches = 0

    def next(self, kind: str) -> str:
        if not self.pending[kind]:
            self.pending[kind] = self._batch(kind)
        return self.pending[kind].pop() if self.pending[kind] else "pass\n"

    def _batch(self, kind: str, size: int = 25) -> list[str]:
        import hypothesmith
        from hypothesis import HealthCheck, Phase, given, seed, settings

        strategy = hypothesmith.from_grammar() if kind == "grammar" else hypothesmith.from_node()
        found: list[str] = []
        self.batches += 1

        @seed(self.seed * 1000 + self.batches)
        @settings(max_examples=size, database=None, deadline=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(strategy)
        def collect(source):
            found.append(source)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                collect()
            except Exception:  # noqa: BLE001 - a generator failure is no torchlint finding
                pass
        return found


def inputs(count: int, corpus: list[str], seed: int, program_share: float):
    """Yield (index, kind, suffix, data) for `count` inputs."""
    rng = random.Random(seed)
    programs = Programs(seed)
    for index in range(count):
        roll = rng.random()
        if roll < program_share * 0.75 or not corpus:
            kind = "hypothesmith-grammar"
            text = programs.next("grammar")
            if rng.random() < 0.5:
                text = "import torch\n" + text + rng.choice(SNIPPETS)
            yield index, kind, ".py", text.encode("utf-8", "surrogatepass")
        elif roll < program_share:
            yield index, "hypothesmith-node", ".py", programs.next("node").encode("utf-8", "surrogatepass")
        else:
            name, suffix, data = mutate(_read(rng.choice(corpus)), rng)
            yield index, f"mutant-{name}", suffix, data


# --- running --------------------------------------------------------------------------------


def _child(connection, folder: str) -> None:
    """Lint each input sent, render it in every format, and answer (status, seconds, detail)."""
    from torchlint.config import SelectionLayer, load_settings
    from torchlint.engine import lint_file
    from torchlint.output import FORMATS, RenderOptions, render

    settings = load_settings(None, SelectionLayer(), isolated=True)
    while True:
        message = connection.recv()
        if message is None:
            return
        index, suffix, data = message
        path = os.path.join(folder, f"input{index}{suffix}")
        with open(path, "wb") as handle:
            handle.write(data)
        start = time.monotonic()
        status, detail = "ok", ""
        stderr, sys.stderr = sys.stderr, io.StringIO()
        try:
            result = lint_file(path, settings)
            internal = [d.message for d in result.diagnostics if d.code == "TL004"]
            if internal:
                status, detail = "traceback", internal[0][:200]
            for fmt in FORMATS:
                render(fmt, [result], io.StringIO(), RenderOptions(color=fmt == "full"))
            leaked = sys.stderr.getvalue()
            if leaked and status == "ok":
                status, detail = "stderr", leaked[:200]
            codes = sorted({d.code for d in result.diagnostics if d.code in ("TL001", "TL002")})
        except BaseException as exc:  # noqa: BLE001 - exactly what this script looks for
            status, detail, codes = "traceback", f"{type(exc).__name__}: {exc}"[:200], []
        finally:
            sys.stderr = stderr
            os.unlink(path)
        connection.send((status, time.monotonic() - start, detail, codes))


class Runner:
    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        self.process = None

    def _start(self) -> None:
        self.connection, theirs = self.context.Pipe()
        self.process = self.context.Process(target=_child, args=(theirs, self.folder), daemon=True)
        self.process.start()
        theirs.close()

    def run(self, index: int, suffix: str, data: bytes, hang_after: float):
        if self.process is None:
            self._start()
        start = time.monotonic()
        self.connection.send((index, suffix, data))
        if not self.connection.poll(hang_after):
            self.process.kill()
            self.process.join()
            self.process = None
            return "hang", time.monotonic() - start, f"over {hang_after:g} s", []
        try:
            return self.connection.recv()
        except (EOFError, OSError):
            self.process.join()
            code = self.process.exitcode
            self.process = None
            return "crash", time.monotonic() - start, f"exit code {code}", []

    def close(self) -> None:
        if self.process is not None:
            self.connection.send(None)
            self.process.join(10)
            if self.process.is_alive():
                self.process.kill()


def run_cli_sample(samples: list[tuple[int, str, bytes]], folder: str) -> tuple[str, str]:
    """Check the sample together with the real command, in worker processes."""
    os.makedirs(folder, exist_ok=True)
    for index, suffix, data in samples:
        with open(os.path.join(folder, f"input{index}{suffix}"), "wb") as handle:
            handle.write(data)
    env = {**os.environ, "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "torchlint", "check", "--isolated", "--no-cache", "-j", "2", "--output-format", "json", "."],
        cwd=folder, capture_output=True, text=True, env=env, timeout=1800,
    )
    try:
        json.loads(done.stdout)
    except ValueError:
        return "traceback", f"exit {done.returncode}, stdout is not JSON: {done.stderr[-300:]}"
    if done.returncode not in (0, 1, 2) or "Traceback" in done.stderr:
        return "traceback" if "Traceback" in done.stderr else "crash", f"exit {done.returncode}: {done.stderr[-300:]}"
    return "ok", f"exit {done.returncode}"


def main() -> int:
    global LARGE_SIZE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=1000)
    parser.add_argument("--corpus", help="a folder of real .py files to mutate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hang-after", type=float, default=20.0, help="seconds per input before it counts as a hang")
    parser.add_argument("--time-limit", type=float, default=None, help="stop generating new inputs after this many seconds")
    parser.add_argument("--program-share", type=float, default=0.15, help="share of hypothesmith programs (the rest: mutants)")
    parser.add_argument("--cli-sample", type=int, default=200, help="inputs also checked together by the real command")
    parser.add_argument("--large-size", type=int, default=LARGE_SIZE, help="bytes of the huge-file mutant that is still analysed")
    args = parser.parse_args()
    LARGE_SIZE = args.large_size

    corpus = corpus_files(args.corpus)
    rows: dict[str, dict] = defaultdict(lambda: defaultdict(float))
    problems: list[str] = []
    samples: list[tuple[int, str, bytes]] = []
    started = time.monotonic()
    ran = 0
    with tempfile.TemporaryDirectory(prefix="torchlint-fuzz-") as folder:
        runner = Runner(folder)
        try:
            for index, kind, suffix, data in inputs(args.inputs, corpus, args.seed, args.program_share):
                if args.time_limit and time.monotonic() - started > args.time_limit:
                    break
                status, seconds, detail, codes = runner.run(index, suffix, data, args.hang_after)
                ran += 1
                row = rows[kind]
                row["inputs"] += 1
                row[status] += 1
                row["max_s"] = max(row["max_s"], seconds)
                for code in codes:
                    row[code] += 1
                if status != "ok":
                    problems.append(f"{kind} #{index}: {status}: {detail}")
                if len(samples) < args.cli_sample and len(data) < 1_000_000:
                    samples.append((index, suffix, data))
        finally:
            runner.close()
        cli_status, cli_detail = ("ok", "skipped") if not samples else run_cli_sample(samples, os.path.join(folder, "cli"))
    elapsed = time.monotonic() - started

    header = f"{'kind':<28}{'inputs':>8}{'crashes':>9}{'hangs':>7}{'tracebacks':>12}{'TL001':>7}{'TL002':>7}{'max s':>8}"
    print(header)
    print("-" * len(header))
    totals = defaultdict(float)
    for kind in sorted(rows):
        row = rows[kind]
        tracebacks = row["traceback"] + row["stderr"]
        print(f"{kind:<28}{int(row['inputs']):>8}{int(row['crash']):>9}{int(row['hang']):>7}{int(tracebacks):>12}"
              f"{int(row['TL001']):>7}{int(row['TL002']):>7}{row['max_s']:>8.1f}")
        for key in ("inputs", "crash", "hang", "TL001", "TL002"):
            totals[key] += row[key]
        totals["tracebacks"] += tracebacks
        totals["max_s"] = max(totals["max_s"], row["max_s"])
    print("-" * len(header))
    print(f"{'total':<28}{int(totals['inputs']):>8}{int(totals['crash']):>9}{int(totals['hang']):>7}{int(totals['tracebacks']):>12}"
          f"{int(totals['TL001']):>7}{int(totals['TL002']):>7}{totals['max_s']:>8.1f}")
    print(f"real command on {len(samples)} of the inputs (-j 2): {cli_status} ({cli_detail})")
    for problem in problems[:30]:
        print("  " + problem)
    failures = int(totals["crash"] + totals["hang"] + totals["tracebacks"]) + (cli_status != "ok")
    print(f"RESULT inputs={ran} crashes={int(totals['crash'])} hangs={int(totals['hang'])} "
          f"tracebacks={int(totals['tracebacks'])} cli={cli_status} seconds={elapsed:.0f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
