"""Running the engine over many files: discovery, cache look-ups, then linting in a process pool.

Results are yielded in path order as they arrive, whether they come from the cache, from this
process (`jobs=1`, or a single file) or from worker processes: the output of a run does not depend
on how it was scheduled. Only files the cache cannot answer are linted.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from typing import TYPE_CHECKING, Iterator

from torchlint import codes
from torchlint.config import Settings
from torchlint.diagnostics import FileResult
from torchlint.discovery import discover
from torchlint.engine import lint_file
from torchlint.source import SourceError, read_bytes, read_limit

if TYPE_CHECKING:
    from torchlint.cache import ResultCache


def default_jobs() -> int:
    """All the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def check_paths(
    paths: list[str], settings: Settings, *, jobs: int | None = None, cache: ResultCache | None = None
) -> Iterator[FileResult]:
    """Lint every discovered file, yielding results in path order.

    `jobs`: worker processes (None: all cores; 1: lint in this process). `cache`: where to look
    results up and store new ones (None: no cache).
    """
    candidates = sorted(discover(paths, settings), key=lambda c: c.path)
    planned = [_look_up(candidate.path, cache, settings) for candidate in candidates]
    misses = [path for path, hit in planned if hit is None]
    linted = _lint_all(misses, settings, cache, jobs)
    try:
        for path, hit in planned:
            if hit is not None:
                yield hit
                continue
            key, result = next(linted)
            if cache is not None and key is not None and _cacheable(result):
                cache.put(key, result)
            yield result
    finally:
        linted.close()


def _look_up(path: str, cache: ResultCache | None, settings: Settings) -> tuple[str, FileResult | None]:
    if cache is None:
        return path, None
    try:
        data = read_bytes(path, read_limit(path, settings.max_file_size))
    except SourceError:
        return path, None  # linted (and reported) as usual, never cached
    hit = cache.get(cache.key(path, data), path)
    if hit is not None and hit.diagnostics:
        _restore_source(hit, path, data)
    return path, hit


def _restore_source(result: FileResult, path: str, data: bytes) -> None:
    """Cached entries keep findings only; the code frames need the text, which we just read."""
    from torchlint.source import decode_python

    try:
        if path.endswith(".ipynb"):
            from torchlint.notebook import load_notebook

            notebook = load_notebook(data)
            if notebook is not None:
                result.source = notebook.text
                result.cell_sources = {cell.index: cell.source for cell in notebook.cells}
        else:
            result.source = decode_python(data).text
    except (SourceError, ValueError):
        pass


def _cacheable(result: FileResult) -> bool:
    # An internal error is a torchlint bug, maybe a transient one: never keep it.
    return all(d.code != codes.INTERNAL_ERROR for d in result.diagnostics)


def _lint_all(
    paths: list[str], settings: Settings, cache: ResultCache | None, jobs: int | None
) -> Iterator[tuple[str | None, FileResult]]:
    workers = min(jobs or default_jobs(), len(paths))
    if workers <= 1:
        _init_worker(settings, cache)
        for path in paths:
            yield _lint_one(path)
        return
    yield from _lint_in_pool(paths, settings, cache, workers)


def _lint_in_pool(paths: list[str], settings: Settings, cache: ResultCache | None, workers: int):
    """Lint in worker processes, in order; a worker that dies costs only the file it was linting.

    When the pool breaks (a worker crashed or was killed), the files already answered are kept,
    the first unanswered chunk is relinted one file at a time in a pool of its own, so the file
    that kills a worker is found and reported as TL004, and a fresh pool takes the rest.
    """
    chunksize = max(1, min(16, len(paths) // (workers * 8)))
    position = 0
    while position < len(paths):
        remaining = paths[position:]
        chunks = [remaining[i : i + chunksize] for i in range(0, len(remaining), chunksize)]
        broken = False
        with _Pool(settings, cache, workers) as pool:
            futures = pool.submit_all(chunks)
            for chunk, future in zip(chunks, futures):
                outcome = _outcome(future)
                if outcome is None:
                    broken = True
                    break
                yield from outcome
                position += len(chunk)
        if broken:
            yield from _lint_one_by_one(chunks[0], settings, cache)
            position += len(chunks[0])


def _lint_one_by_one(paths: list[str], settings: Settings, cache: ResultCache | None):
    """Each file in turn in a single worker: a worker that dies is blamed on exactly one file."""
    index = 0
    while index < len(paths):
        with _Pool(settings, cache, 1) as pool:
            futures = pool.submit_all([[path] for path in paths[index:]])
            for future in futures:
                outcome = _outcome(future)
                if outcome is None:
                    yield None, _worker_died(paths[index], settings)
                    index += 1
                    break
                yield from outcome
                index += 1


def _outcome(future):
    from concurrent.futures.process import BrokenProcessPool

    try:
        return future.result()
    except BrokenProcessPool:
        return None


def _worker_died(path: str, settings: Settings) -> FileResult:
    from torchlint.engine import internal_error_result

    return internal_error_result(
        path, settings, "the worker process linting this file died (crashed or was killed); the other files were linted"
    )


class _Pool:
    """A process pool whose workers can never import code from the checked project.

    Forked workers share what this process already imported (LibCST, the rules); forking while
    another thread runs (a progress bar's refresh thread) can copy a lock that thread holds, so
    then workers start as fresh interpreters (forkserver, or spawn). Those start with `python -c`,
    which puts the current directory first on `sys.path`: a `multiprocessing.py` or `socket.py`
    in the checked tree would be imported and run. So every worker is launched with
    `PYTHONSAFEPATH` set (no current directory) and inherits a `sys.path` without the current
    directory or the script's directory; each worker also cleans its own `sys.path` first thing.
    """

    def __init__(self, settings: Settings, cache: ResultCache | None, workers: int) -> None:
        with _safe_launch():  # this process too imports nothing from the project
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor  # noqa: F401

            self.context = multiprocessing.get_context(_start_method())
        self.fork = self.context.get_start_method() == "fork"
        self.settings, self.cache, self.workers = settings, cache, workers
        self.executor = None

    def __enter__(self) -> _Pool:
        from concurrent.futures import ProcessPoolExecutor

        if self.fork:
            import gc

            # Imported once here rather than once per worker; and the objects that exist now are
            # kept out of the workers' garbage collection, whose scans would copy every shared page.
            import libcst  # noqa: F401
            import torchlint.positions  # noqa: F401
            import torchlint.suppressions  # noqa: F401
            import torchlint.walk  # noqa: F401

            gc.freeze()  # undone in __exit__, once the workers are gone
        with _safe_launch():
            self.executor = ProcessPoolExecutor(
                self.workers, mp_context=self.context, initializer=_init_pool_worker, initargs=(self.settings, self.cache)
            )
        return self

    def submit_all(self, chunks: list[list[str]]) -> list:
        # Workers start while jobs are submitted: all of it inside the safe launch.
        with _safe_launch():
            return [self.executor.submit(_lint_chunk, chunk) for chunk in chunks]

    def __exit__(self, *exc_info) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        if self.fork:
            import gc

            gc.unfreeze()


def safe_sys_path(entries: list[str]) -> list[str]:
    """`sys.path` without the entries that point at the current directory or the script's directory."""
    unsafe = {os.path.realpath(os.getcwd())}
    script = sys.argv[0] if sys.argv and sys.argv[0] else ""
    if script and script not in ("-c", "-m"):
        unsafe.add(os.path.realpath(os.path.dirname(os.path.abspath(script))))
    return [entry for entry in entries if entry not in ("", ".") and os.path.realpath(entry) not in unsafe]


@contextlib.contextmanager
def _safe_launch():
    """While workers start: no unsafe `sys.path` entry to hand them, and `python -P` semantics."""
    saved_path = list(sys.path)
    saved_flag = os.environ.get("PYTHONSAFEPATH")
    sys.path[:] = safe_sys_path(saved_path)
    os.environ["PYTHONSAFEPATH"] = "1"
    try:
        yield
    finally:
        sys.path[:] = saved_path
        if saved_flag is None:
            os.environ.pop("PYTHONSAFEPATH", None)
        else:
            os.environ["PYTHONSAFEPATH"] = saved_flag


def _start_method() -> str:
    """fork while this process has one thread; otherwise a fresh interpreter per worker.

    Before Python 3.11, a fresh interpreter cannot be told to leave the current directory off
    `sys.path` (no `PYTHONSAFEPATH`) while it imports `multiprocessing`: there fork is used anyway.
    """
    import multiprocessing
    import threading

    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and (threading.active_count() == 1 or sys.version_info < (3, 11)):
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


_WORKER: dict = {}


def _init_worker(settings: Settings, cache: ResultCache | None) -> None:
    _WORKER["settings"] = settings
    _WORKER["cache"] = cache  # only its key function is used here; the parent writes entries


def _init_pool_worker(settings: Settings, cache: ResultCache | None) -> None:
    import signal

    sys.path[:] = safe_sys_path(sys.path)  # whatever started this process, import nothing from the project
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle, once
    _init_worker(settings, cache)


def _lint_chunk(paths: list[str]) -> list[tuple[str | None, FileResult]]:
    outcomes = []
    for path in paths:
        try:
            outcomes.append(_lint_one(path))
        except Exception as exc:  # lint_file never raises; should the rest, this file alone pays
            from torchlint.engine import internal_error_result

            outcomes.append((None, internal_error_result(path, _WORKER["settings"], f"internal error: {exc!r}")))
    return outcomes


@contextlib.contextmanager
def _one_collection():
    """The cyclic garbage collector paused while one file is linted, and run once after it.

    A file's tree and facts live exactly as long as its lint (the engine leaves no cycle to
    keep them): automatic collections would only scan them again and again as they are built,
    about a tenth of the CPU of a run. What little cyclic garbage the file leaves is young, so
    collecting the youngest generation frees it.
    """
    if not gc.isenabled():  # paused by a caller: theirs to run
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect(0)


def _lint_one(path: str) -> tuple[str | None, FileResult]:
    """Lint one file; with a cache, also return the key of the bytes that were linted."""
    settings = _WORKER["settings"]
    try:
        data = read_bytes(path, read_limit(path, settings.max_file_size))
    except SourceError:
        return None, lint_file(path, settings)
    cache = _WORKER["cache"]
    key = cache.key(path, data) if cache is not None else None
    with _one_collection():
        result = lint_file(path, settings, data=data)
    if not result.diagnostics:
        result.source = result.cell_sources = None  # nothing to show: keep results small
    return key, result

