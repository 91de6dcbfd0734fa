"""Running the engine over many files: discovery, cache look-ups, then linting in a process pool.

Results are yielded in path order as they arrive, whether they come from the cache, from this
process (`jobs=1`, or a single file) or from worker processes: the output of a run does not depend
on how it was scheduled. Only files the cache cannot answer are linted.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Iterator

from torchlint import codes
from torchlint.config import Settings
from torchlint.diagnostics import FileResult
from torchlint.discovery import discover
from torchlint.engine import lint_file
from torchlint.source import SourceError, read_bytes

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
    planned = [_look_up(candidate.path, cache) for candidate in candidates]
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


def _look_up(path: str, cache: ResultCache | None) -> tuple[str, FileResult | None]:
    if cache is None:
        return path, None
    try:
        data = read_bytes(path)
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
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context(_start_method())
    if context.get_start_method() == "fork":
        import gc

        # Imported once here rather than once per worker; and the objects that exist now are
        # kept out of the workers' garbage collection, whose scans would copy every shared page.
        import libcst  # noqa: F401

        import torchlint.positions  # noqa: F401
        import torchlint.suppressions  # noqa: F401
        import torchlint.walk  # noqa: F401

        gc.freeze()  # undone below, once the workers are gone

    chunksize = max(1, min(16, len(paths) // (workers * 8)))
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_pool_worker, initargs=(settings, cache))
    try:
        # `map` yields in submission order while the workers run ahead: results stream.
        yield from pool.map(_lint_one, paths, chunksize=chunksize)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if context.get_start_method() == "fork":
            import gc

            gc.unfreeze()


def _start_method() -> str:
    """fork where it is safe: it shares what this process already imported (LibCST, the rules).

    Forking while another thread runs (a progress bar's refresh thread) can copy a lock that
    thread holds; then, and where fork does not exist, workers start fresh and get the settings
    through the pool's initializer.
    """
    import multiprocessing
    import threading

    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


_WORKER: dict = {}


def _init_worker(settings: Settings, cache: ResultCache | None) -> None:
    _WORKER["settings"] = settings
    _WORKER["cache"] = cache  # only its key function is used here; the parent writes entries


def _init_pool_worker(settings: Settings, cache: ResultCache | None) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle, once
    _init_worker(settings, cache)


def _lint_one(path: str) -> tuple[str | None, FileResult]:
    """Lint one file; with a cache, also return the key of the bytes that were linted."""
    settings = _WORKER["settings"]
    try:
        data = read_bytes(path)
    except SourceError:
        return None, lint_file(path, settings)
    cache = _WORKER["cache"]
    key = cache.key(path, data) if cache is not None else None
    result = lint_file(path, settings, data=data)
    if not result.diagnostics:
        result.source = result.cell_sources = None  # nothing to show: keep results small
    return key, result

