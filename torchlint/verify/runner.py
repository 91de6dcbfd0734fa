"""Find fixtures, collect their claims, run one worker subprocess per module, join the results.

This side never imports torch or scikit-learn: the worker does, under a timeout and (on CPU-only
machines) an address-space cap, so a fixture that hangs or balloons costs one module's records.
"""

from __future__ import annotations

import importlib.util
import ast
import json
import os
import re
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from torchlint.verify.join import Claim, Record, join

_FOLDER_CODE = re.compile(r"^(TL\d{3})_")


@dataclass(frozen=True)
class Options:
    devices: str | tuple[str, ...] = "auto"  # "auto": cpu, plus cuda when the worker finds one
    timeout: float = 120.0  # seconds per module
    memory_mb: int | None = 4096  # address-space cap per worker (not applied where CUDA may run)
    jobs: int = 2
    static: bool = True  # static findings are claims
    markers: bool = True  # `# expect:` markers are claims


def bundled_fixtures() -> str | None:
    """The rule fixtures shipped with torchlint (`torchlint.fixtures`), or the repository's."""
    spec = importlib.util.find_spec("torchlint.fixtures")
    for location in (spec.submodule_search_locations or []) if spec else []:
        if os.path.isdir(location):
            return location
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    candidate = os.path.join(here, "tests", "fixtures")
    return candidate if os.path.isdir(candidate) else None


def discover(paths: list[str]) -> list[str]:
    """Fixture modules under PATHS: `.py` and `.ipynb` files not starting with `_`, sorted."""
    found = []
    for path in paths:
        if os.path.isfile(path):
            found.append(os.path.abspath(path))
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
            for name in sorted(files):
                if name.endswith((".py", ".ipynb")) and not name.startswith(("_", "conftest")):
                    found.append(os.path.abspath(os.path.join(root, name)))
    return sorted(dict.fromkeys(found))


def case_count(path: str) -> int | None:
    """How many `case_*()` functions a fixture module defines at top level (None: unreadable)."""
    from torchlint.verify.worker import load_source

    try:
        tree = ast.parse(load_source(path))
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return None
    except Exception:  # a broken notebook: let the run report it as a record
        return None
    return sum(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("case_")
               for node in tree.body)


def split_fixtures(files: list[str]) -> tuple[list[str], list[str]]:
    """(fixture modules, other files): only files that define `case_*()` functions are ever run.

    A file that cannot be read or parsed stays a fixture, so that it becomes an error record.
    """
    fixtures, others = [], []
    for path in files:
        count = case_count(path)
        (others if count == 0 else fixtures).append(path)
    return fixtures, others


class _Rows:
    """Row mapping between a notebook's cells and its joined program (identity for `.py`)."""

    def __init__(self, path: str) -> None:
        self.cells = ()
        if path.endswith(".ipynb"):
            from torchlint.notebook import load_notebook

            with open(path, "rb") as handle:
                notebook = load_notebook(handle.read())
            self.cells = notebook.cells if notebook is not None else ()

    def joined(self, row: int, cell: int | None) -> int:
        for candidate in self.cells:
            if candidate.index == cell:
                return candidate.first_row + row - 1
        return row

    def locate(self, line: int) -> tuple[int | None, int]:
        for cell in self.cells:
            if cell.first_row <= line < cell.first_row + max(cell.rows, 1):
                return cell.index, line - cell.first_row + 1
        return None, line


def claims_for(path: str, rows: _Rows, options: Options) -> list[Claim]:
    """The fixture's claims: its `# expect:` markers and the findings torchlint reports on it."""
    from torchlint.testing import expectations_in_file, lint_fixture
    from torchlint.rules.oracles import oracles_by_code

    marked = {(rows.joined(e.row, e.cell), e.code) for e in expectations_in_file(path)} if options.markers else set()
    found = set()
    if options.static:
        found = {(rows.joined(d.span.start.row, d.cell), d.code) for d in lint_fixture(path)}
    keys = {key for key in marked | found if key[1] in oracles_by_code()}
    return [Claim(line, code, (line, code) in found, (line, code) in marked) for line, code in sorted(keys)]


def relevant_codes(path: str) -> set[str]:
    match = _FOLDER_CODE.match(os.path.basename(os.path.dirname(path)))
    return {match.group(1)} if match else set()


def may_use_cuda(devices) -> bool:
    if devices == "auto":
        return os.path.exists("/dev/nvidiactl") or os.path.exists("/dev/nvidia0")
    return "cuda" in devices


def _ticks(progress_path: str, tick):
    """A poller that reports each case the worker finished (one byte per case in its progress file)."""
    seen = [0]

    def poll() -> None:
        if tick is None:
            return
        try:
            done = os.path.getsize(progress_path)
        except OSError:
            return
        if done > seen[0]:
            tick(done - seen[0])
            seen[0] = done

    return poll


def run_worker(path: str, options: Options, tick=None) -> dict:
    """Run one fixture module in a fresh, contained interpreter; its result, or a `fatal` explanation.

    The worker runs under `torchlint.verify.contain`: its output is kept only as a short tail, the
    memory cap covers the worker and every process it starts, and nothing it started outlives it.
    """
    from torchlint.verify.contain import describe, run_contained

    with tempfile.TemporaryDirectory(prefix="torchlint-verify-") as scratch:
        spec_path, result_path = os.path.join(scratch, "spec.json"), os.path.join(scratch, "result.json")
        with open(spec_path, "w", encoding="utf-8") as handle:
            json.dump({"path": path, "devices": options.devices, "result": result_path,
                       "progress": os.path.join(scratch, "progress")}, handle)
        cap = (options.memory_mb or 0) * 1024 * 1024
        # RLIMIT_AS counts CUDA's address-space reservations: only the RSS cap where CUDA may run.
        address_cap = bool(cap) and not may_use_cuda(options.devices) and sys.platform.startswith("linux")
        env = {**os.environ, "PYTHONHASHSEED": "0", "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
        outcome = run_contained([sys.executable, "-m", "torchlint.verify.worker", spec_path],
                                os.path.join(scratch, "status.json"), timeout=options.timeout, memory_cap=cap,
                                address_cap=address_cap, cwd=os.path.dirname(path), env=env,
                                on_wait=_ticks(os.path.join(scratch, "progress"), tick))
        if outcome.timed_out:
            return {"path": path, "fatal": f"timed out after {options.timeout:g} s"}
        if not os.path.exists(result_path):
            return {"path": path, "fatal": f"worker failed: {describe(outcome.status, outcome.stderr, cap)}"}
        with open(result_path, encoding="utf-8") as handle:
            return json.load(handle)


def display_name(path: str, base: str | None) -> str:
    if base:
        try:
            relative = os.path.relpath(path, base)
            if not relative.startswith(".."):
                return relative
        except ValueError:
            pass
    try:
        relative = os.path.relpath(path)
        return path if relative.startswith("..") else relative
    except ValueError:
        return path


def verify_files(files: list[str], options: Options, base: str | None = None,
                 progress=None) -> list[Record]:
    """Verify each fixture module; records in file order."""

    # Lint first, in this thread (cheap); then the workers, which spend their time in subprocesses.
    rows, claims, unreadable = {}, {}, {}
    for path in files:
        try:
            rows[path] = _Rows(path)
            claims[path] = claims_for(path, rows[path], options)
        except Exception as exc:  # a broken notebook or an unreadable file: one record, not a crash
            unreadable[path] = f"cannot read the fixture: {type(exc).__name__}: {exc}"

    def one(path: str) -> list[Record]:
        if path in unreadable:
            records = join(display_name(path, base), [], {"fatal": unreadable[path]})
        else:
            result = run_worker(path, options, tick=lambda n: progress(path, n) if progress else None)
            records = join(display_name(path, base), claims[path], result, relevant_codes(path), rows[path].locate)
        if progress is not None:
            progress(path, None)  # the module is done: whatever cases it had left count as done
        return records

    with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        return [record for records in pool.map(one, files) for record in records]
