"""The server's state: open documents' latest lints, scheduling, publishing.

Linting runs on one worker thread, so the event loop keeps answering (hover, code actions) while
a long file is linted (except while LibCST's native parser holds the interpreter), and the
engine's process-wide state (recursion limit, caches) is touched by one thread at a time. A
change is linted after a short pause (`debounce`), an open or a save at once. A lint whose
document changed meanwhile is not published, and one superseded before it starts never runs.

Python's cyclic garbage collector is paused from the start of a lint until its findings are
published, and then run once on the worker: a lint allocates a few hundred thousand objects,
and each collection those allocations would trigger traverses everything the server holds
(its modules' objects included). Those long-lived objects are moved out of the collector's
sight (`gc.freeze`) after the first lint, when the engine's modules are loaded.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING
from urllib.parse import unquote

from lsprotocol import types

from torchlint.config import SelectionLayer
from torchlint.server.convert import published
from torchlint.server.documents import (
    Linted,
    NotebookCellText,
    Snapshot,
    is_python_document,
    notebook_snapshot,
    path_of,
    python_snapshot,
)
from torchlint.server.linting import Linter, fix_all
from torchlint.server.settings import WorkspaceSettings

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

logger = logging.getLogger(__name__)
DEFAULT_DEBOUNCE_S = 0.15
# A lint running longer than this is reported to the user (a thread cannot be stopped).
SLOW_LINT_S = 30.0


class _Worker:
    """One daemon thread that runs the engine, in submission order.

    A daemon, so that `exit` ends the process even while a long lint is still running; a plain
    thread pool would keep the interpreter waiting for it. Its stack is the platform's default
    for threads, like the main thread's that `check` lints in: a file nested deeply enough to
    exhaust it is for the engine's depth guards to refuse.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="torchlint-lint", daemon=True)
        self._thread.start()

    def submit(self, function, *args) -> Future:
        future: Future = Future()
        self._jobs.put((future, function, args))
        return future

    def _run(self) -> None:
        while True:
            future, function, args = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(function(*args))
            except BaseException as exc:  # handed to the awaiting coroutine
                future.set_exception(exc)


class Session:
    def __init__(self, server: LanguageServer) -> None:
        self.server = server
        self.settings = WorkspaceSettings(SelectionLayer())
        self.linter = Linter()
        self.debounce = DEFAULT_DEBOUNCE_S
        self.latest: dict[str, Linted] = {}  # document URI -> its last lint
        self._published: dict[str, set[str]] = {}  # document URI -> part URIs with diagnostics sent
        self._pending: dict[str, asyncio.Task] = {}
        self._warned: set[str] = set()
        self._worker: _Worker | None = None
        self._uncollected = False  # whether a lint was queued since the last collection
        self._frozen = False  # whether the objects alive after a first lint were moved out of the collector's sight

    # --- documents -----------------------------------------------------------------------

    @property
    def units(self) -> Callable[[str], int]:
        return self.server.workspace.position_codec.client_num_units

    def document_of(self, uri: str) -> str | None:
        """The document a URI belongs to: itself, or the notebook of a cell; None if not ours."""
        workspace = self.server.workspace
        if workspace.get_notebook_document(notebook_uri=uri) is not None:
            return uri
        notebook = workspace.get_notebook_document(cell_uri=uri)
        if notebook is not None:
            return notebook.uri
        document = workspace.text_documents.get(unquote(uri))
        if document is None or not is_python_document(self._path(uri), document.language_id):
            return None
        return uri

    def snapshot(self, uri: str) -> Snapshot | None:
        """The document as the editor holds it now."""
        workspace = self.server.workspace
        notebook = workspace.get_notebook_document(notebook_uri=uri)
        if notebook is not None:
            cells = []
            for cell in notebook.cells:
                document = workspace.text_documents.get(unquote(cell.document))
                cells.append(
                    NotebookCellText(
                        uri=cell.document,
                        text=document.source if document is not None else "",
                        is_code=cell.kind == types.NotebookCellKind.Code,
                        language=document.language_id if document is not None else None,
                    )
                )
            return notebook_snapshot(uri, notebook.version, self._path(uri), cells)
        document = workspace.text_documents.get(unquote(uri))
        if document is None:
            return None
        return python_snapshot(uri, document.version, self._path(uri), document.source)

    def _path(self, uri: str) -> str | None:
        from pygls.uris import to_fs_path

        return path_of(uri, to_fs_path)

    # --- linting -------------------------------------------------------------------------

    def schedule(self, uri: str, *, delay: float = 0.0, store: bool = False) -> None:
        """Lint a document after `delay` seconds, replacing a lint of it not yet started."""
        pending = self._pending.pop(uri, None)
        if pending is not None:
            pending.cancel()
        self._pending[uri] = asyncio.ensure_future(self._lint_later(uri, delay, store))

    async def _lint_later(self, uri: str, delay: float, store: bool) -> None:
        try:
            await self._lint_and_publish(uri, delay, store)
        finally:
            if self._pending.get(uri) is asyncio.current_task():
                del self._pending[uri]
            self._collect_garbage()  # after publishing: the client is not kept waiting for it

    async def _lint_and_publish(self, uri: str, delay: float, store: bool) -> None:
        try:
            if delay:
                await asyncio.sleep(delay)
            linted = await self.lint(uri, store=store)
        except asyncio.CancelledError:
            return
        except Exception as exc:  # a torchlint bug: say so, and keep serving
            logger.exception("linting %s failed", uri)
            self.server.window_log_message(
                types.LogMessageParams(
                    type=types.MessageType.Error, message=f"torchlint: linting {uri} failed: {exc!r}"
                )
            )
            return
        if linted is not None and self._is_current(linted):
            self.publish(linted)

    async def lint(self, uri: str, *, store: bool = False) -> Linted | None:
        snapshot = self.snapshot(uri)
        if snapshot is None:
            return None
        self._uncollected = True
        linted, problem = await self._in_worker(self._lint_snapshot, snapshot, store)
        if problem and problem not in self._warned:
            self._warned.add(problem)
            self.server.window_show_message(
                types.ShowMessageParams(type=types.MessageType.Error, message=f"torchlint: {problem}")
            )
        if self.document_of(uri) is not None:  # still open
            self.latest[uri] = linted
        return linted

    def _lint_snapshot(self, snapshot: Snapshot, store: bool) -> tuple[Linted, str | None]:
        resolved = self.settings.for_path(snapshot.path)
        if self.settings.excluded(snapshot.path, resolved.settings):
            return Linted(snapshot, excluded=True), resolved.problem
        gc.disable()  # until `_collect`, which every caller of `lint` has queued behind this job
        return self.linter.lint(snapshot, resolved.settings, store=store), resolved.problem

    def _collect_garbage(self) -> None:
        """Queue a collection behind the lint just run: the worker runs it after the findings went out."""
        if self._uncollected and self._worker is not None:
            self._uncollected = False
            self._worker.submit(self._collect)

    def _collect(self) -> None:
        gc.collect()
        if not self._frozen:
            gc.freeze()
            self._frozen = True
        gc.enable()

    async def current(self, uri: str) -> Linted | None:
        """The lint of the document holding `uri`, up to date (linted now if it is stale)."""
        document = self.document_of(uri)
        if document is None:
            return None
        linted = self.latest.get(document)
        if linted is not None and self._is_current(linted):
            return linted
        try:
            return await self.lint(document)
        finally:
            self._collect_garbage()

    async def fixed_texts(self, linted: Linted) -> dict[int | None, str]:
        def run():
            settings = self.settings.for_path(linted.snapshot.path).settings
            return fix_all(linted.snapshot, settings)

        return await self._in_worker(run)

    def _is_current(self, linted: Linted) -> bool:
        now = self.snapshot(linted.snapshot.uri)
        return now is not None and now.version == linted.snapshot.version and now.parts == linted.snapshot.parts

    async def _in_worker(self, function, *args):
        """Run on the worker thread; a lint superseded before it starts is never run."""
        if self._worker is None:
            self._worker = _Worker()
        future = asyncio.wrap_future(self._worker.submit(function, *args))
        try:
            done, _ = await asyncio.wait({future}, timeout=SLOW_LINT_S)
            if not done:
                self.server.window_show_message(
                    types.ShowMessageParams(
                        type=types.MessageType.Warning,
                        message=f"torchlint: linting has taken more than {SLOW_LINT_S:.0f} s; findings will be late",
                    )
                )
            return await future
        except asyncio.CancelledError:
            future.cancel()
            raise

    # --- publishing ----------------------------------------------------------------------

    def publish(self, linted: Linted) -> None:
        by_uri = published(linted, self.units)
        uri = linted.snapshot.uri
        for stale in self._published.get(uri, set()) - set(by_uri):
            self._send(stale, [], None)  # a cell that was deleted
        for part_uri, diagnostics in by_uri.items():
            version = linted.snapshot.version if not linted.snapshot.is_notebook else None
            self._send(part_uri, diagnostics, version)
        self._published[uri] = set(by_uri)

    def close(self, uri: str, part_uris: list[str]) -> None:
        pending = self._pending.pop(uri, None)
        if pending is not None:
            pending.cancel()
        self.latest.pop(uri, None)
        for part_uri in set(part_uris) | self._published.pop(uri, set()):
            self._send(part_uri, [], None)

    def _send(self, uri: str, diagnostics: list[types.Diagnostic], version: int | None) -> None:
        self.server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version)
        )

    # --- settings ------------------------------------------------------------------------

    async def reload_settings(self) -> None:
        """A pyproject.toml changed: forget resolved settings and lint every open document again."""
        await self._in_worker(self.settings.reload)
        self._warned.clear()
        for uri in list(self.latest):
            self.schedule(uri)

    def is_config(self, uri: str) -> bool:
        return os.path.basename(unquote(uri).rstrip("/")) == "pyproject.toml"

    def shutdown(self) -> None:
        for task in self._pending.values():
            task.cancel()
        self._pending.clear()
