"""The verify worker: runs one fixture module's cases under the tracer and writes what it saw.

Run as `python -m torchlint.verify.worker SPEC.json`, one process per module (the parent sets the
timeout and memory cap). SPEC holds `path`, `devices` (a list, or "auto": cpu plus cuda when
available) and `result` (where to write the JSON result). The module body runs first, traced, as
the pseudo-case `<module>` (a notebook's code usually lives there); then every `case_*()` function,
in source order, on each device when it takes a `device` parameter, else once on cpu.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import inspect
import json
import linecache
import math
import os
import random
import re
import sys
import time
import types

MODULE_CASE = "<module>"
_PRELOAD_ROOTS = ("torch", "sklearn", "numpy", "pandas")


def load_source(path: str) -> str:
    """The program text of a fixture: the file itself, or a notebook's joined, masked code cells."""
    with open(path, "rb") as handle:
        data = handle.read()
    if path.endswith(".ipynb"):
        from torchlint.notebook import load_notebook

        notebook = load_notebook(data)
        return notebook.text if notebook is not None else ""
    return data.decode("utf-8-sig")


def class_lines(tree: ast.Module) -> dict[str, int]:
    """Qualified class name -> line of its `class` statement (where TL401 reports)."""
    found: dict[str, int] = {}

    def walk(node, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                found.setdefault(prefix + child.name, child.lineno)
                walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                walk(child, f"{prefix}{child.name}.<locals>.")
            else:
                walk(child, prefix)

    walk(tree, "")
    return found


def _preload(tree: ast.Module) -> None:
    # Import the libraries the fixture uses before tracing, so the module body is traced too.
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            if name.split(".")[0] in _PRELOAD_ROOTS:
                with contextlib.suppress(Exception):
                    importlib.import_module(name)


class LineRecorder:
    """Which lines of one file ran, via a trace function that ignores every other file."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.lines: set[int] = set()

    def _global(self, frame, event, arg):
        if frame.f_code.co_filename == self.filename:
            self.lines.add(frame.f_lineno)
            return self._local
        return None

    def _local(self, frame, event, arg):
        if event == "line":
            self.lines.add(frame.f_lineno)
        return self._local

    def __enter__(self):
        sys.settrace(self._global)
        return self

    def __exit__(self, *exc_info):
        sys.settrace(None)


def _seed() -> None:
    random.seed(0)
    for name, call in (("numpy", "random.seed"), ("torch", "manual_seed")):
        module = sys.modules.get(name)
        if module is not None:
            target = module
            for part in call.split("."):
                target = getattr(target, part)
            target(0)


def jsonable(value):
    """A JSON-safe copy of an oracle's evidence: non-finite floats become null, objects their
    float value or their text."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _error_line(exc: BaseException, path: str) -> int | None:
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


class FixtureRun:
    """One fixture module: load it, run its cases, and collect the oracles' verdicts."""

    def __init__(self, path: str, progress: str | None = None) -> None:
        self.path = os.path.abspath(path)
        self.progress = progress
        self.source = load_source(self.path)
        self.tree = ast.parse(self.source, self.path)
        self.classes = class_lines(self.tree)
        self.module_name = "_torchlint_fixture_" + "".join(c if c.isalnum() else "_" for c in self.path)
        self.module = types.ModuleType(self.module_name)
        self.module.__file__ = self.path
        self.notebook = None
        if self.path.endswith(".ipynb"):
            from torchlint.notebook import load_notebook

            with open(self.path, "rb") as handle:
                self.notebook = load_notebook(handle.read())
        self.events: list[dict] = []
        self.runs: list[dict] = []

    def run(self, devices) -> dict:
        _preload(self.tree)
        linecache.cache[self.path] = (len(self.source), None, self.source.splitlines(True), self.path)
        sys.modules[self.module_name] = self.module
        sys.path.insert(0, os.path.dirname(self.path))
        code = compile(self.source, self.path, "exec")
        self._traced(MODULE_CASE, "cpu", lambda: exec(code, self.module.__dict__))
        devices = self._devices(devices)
        for device in devices:
            for name, function in self._cases():
                takes_device = "device" in inspect.signature(function).parameters
                if takes_device:
                    self._traced(name, device, lambda: function(device=device))
                elif device == devices[0]:
                    self._traced(name, "cpu", function)
        return {"path": self.path, "devices": devices, "events": self.events, "runs": self.runs}

    def _devices(self, requested) -> list[str]:
        torch = sys.modules.get("torch")
        has_cuda = bool(torch is not None and torch.cuda.is_available())
        if requested == "auto":
            return ["cpu", "cuda"] if has_cuda else ["cpu"]
        return list(requested)

    def _cases(self):
        found = []
        for name, value in vars(self.module).items():
            if name.startswith("case_") and inspect.isfunction(value) and value.__module__ == self.module_name:
                found.append((value.__code__.co_firstlineno, name, value))
        return [(name, value) for _, name, value in sorted(found)]

    def _traced(self, case: str, device: str, body) -> None:
        from torchlint.verify.tracer import Tracer

        _seed()
        error = None
        started = time.perf_counter()
        tracer = Tracer(namespaces=[self.module.__dict__])
        recorder = LineRecorder(self.path)
        stdout = sys.stdout
        try:
            sys.stdout = sys.stderr  # the fixture's prints must not mix with anything we write
            with tracer, recorder:
                body()
        except Exception as exc:
            error = exc
        finally:
            sys.stdout = stdout
        if self.progress:
            with open(self.progress, "ab") as handle:  # one byte per case: the parent's progress bar
                handle.write(b".")
        self._collect(case, device, tracer, error)
        if error is not None and not any(c.error is error for c in tracer.calls):
            self._collect_raise(case, device, error, tracer)
        self.runs.append({
            "case": case, "device": device, "lines": sorted(recorder.lines),
            "seconds": round(time.perf_counter() - started, 4),
            "error": None if error is None else {
                "type": type(error).__name__, "message": (str(error).strip().splitlines() or [""])[0][:300],
                "line": _error_line(error, self.path),
                "from_call": next((c.index for c in tracer.calls if c.error is error), None),
            },
        })

    def _where(self, text: str) -> str:
        """In a notebook, say `cell 3:2` where an oracle said `line 7` of the joined program."""
        if self.notebook is None:
            return text

        def cell_row(match) -> str:
            cell, row = self.notebook.locate(int(match.group(1)))
            return f"cell {cell}:{row}"

        return re.sub(r"\bline (\d+)", cell_row, text)

    def _verdicts(self, found: dict) -> dict:
        return {code: {"holds": v.holds, "observed": self._where(v.observed), "evidence": jsonable(v.evidence)}
                for code, v in found.items()}

    def _collect(self, case: str, device: str, tracer, error) -> None:
        from torchlint.rules.oracles import judge_all
        from torchlint.rules.oracles.observations import LoaderCreated

        for call in tracer.calls:
            line = call.line
            if isinstance(call, LoaderCreated):
                cls = type(call.dataset)
                if cls.__module__ == self.module_name and cls.__qualname__ in self.classes:
                    line = self.classes[cls.__qualname__]
                elif call.file != self.path:
                    continue
            elif call.file != self.path:
                continue
            try:
                found = judge_all(call, tracer)
            except Exception as exc:  # an oracle bug must show up as a disagreement, not a crash
                self.events.append({"case": case, "device": device, "kind": type(call).__name__, "name": call.name,
                                    "line": line, "column": call.column, "raised": call.error is not None,
                                    "index": call.index, "oracle_error": f"{type(exc).__name__}: {exc}",
                                    "verdicts": {}})
                continue
            if not found:
                continue
            self.events.append({
                "case": case, "device": device, "kind": type(call).__name__, "name": call.name, "line": line,
                "column": call.column, "raised": call.error is not None, "index": call.index,
                "callers": list(call.callers), "verdicts": self._verdicts(found),
            })

    def _collect_raise(self, case: str, device: str, error: BaseException, tracer) -> None:
        # An error from a call the tracer does not watch (`out=`, `inplace=True`): the traceback's
        # last line in the fixture is the statement that raised, and the message says why.
        from torchlint.rules.oracles import judge_all
        from torchlint.rules.oracles.observations import RaisedError

        line = _error_line(error, self.path)
        if line is None:
            return
        found = judge_all(RaisedError(type(error).__name__, self.path, line, 0, error=error, index=-1), tracer)
        self.events.append({
            "case": case, "device": device, "kind": "raise", "name": type(error).__name__, "line": line,
            "column": 0, "raised": True, "index": -1,
            "verdicts": self._verdicts(found),
        })


def main(argv: list[str]) -> int:
    with open(argv[0], encoding="utf-8") as handle:
        spec = json.load(handle)
    try:
        result = FixtureRun(spec["path"], spec.get("progress")).run(spec.get("devices", "auto"))
    except Exception as exc:
        result = {"path": spec["path"], "fatal": f"{type(exc).__name__}: {str(exc).strip()[:500]}"}
    with open(spec["result"], "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
