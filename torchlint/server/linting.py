"""Running the engine on a snapshot, in-process: lint, and fix all safe fixes.

The engine gets the snapshot's bytes exactly as `check` gets a file's (`lint_file` with `data`),
so settings, suppressions, notebooks and syntax errors behave the same. Results are looked up in
`check`'s result cache first; only text that is also on disk (just opened or saved) is stored,
so typing does not fill the cache with every keystroke's version. Each document's last parse
is kept, by top-level statement (`Reparser`): after an edit only the changed statements are
parsed again.
"""

from __future__ import annotations

import json
import os

from torchlint import codes
from torchlint.config import Settings
from torchlint.server.documents import Linted, Snapshot
from torchlint.server.reparse import Reparser


# The documents whose last parse is kept (the most recently linted ones).
KEPT_PARSES = 8


class Linter:
    """Lints snapshots with the settings it is given; one result cache per settings."""

    def __init__(self, use_cache: bool = True, reuse_parses: bool = True) -> None:
        self.use_cache = use_cache
        self.reuse_parses = reuse_parses
        self._caches: dict[tuple[str, str], object] = {}
        self._reparsers: dict[str, Reparser] = {}  # document URI -> its parses, least recent first

    def lint(self, snapshot: Snapshot, settings: Settings, *, store: bool = False) -> Linted:
        from torchlint.engine import lint_file

        cache = self._cache_for(settings)
        key = cache.key(snapshot.shown_path, snapshot.data) if cache is not None else None
        if cache is not None:
            hit = cache.get(key, snapshot.shown_path)
            if hit is not None:
                return Linted(snapshot, hit.diagnostics)
        result = lint_file(
            snapshot.engine_path, settings, snapshot.shown_path, data=snapshot.data,
            reparse=self.reparser(snapshot.uri) if self.reuse_parses else None,
        )
        if cache is not None and store and all(d.code != codes.INTERNAL_ERROR for d in result.diagnostics):
            cache.put(key, result)
        return Linted(snapshot, result.diagnostics)

    def reparser(self, uri: str) -> Reparser:
        """The document's `Reparser`, made the most recent; the least recent beyond `KEPT_PARSES` go."""
        reparser = self._reparsers.pop(uri, None) or Reparser()
        self._reparsers[uri] = reparser
        while len(self._reparsers) > KEPT_PARSES:
            del self._reparsers[next(iter(self._reparsers))]
        return reparser

    def _cache_for(self, settings: Settings):
        # Only inside a configured project: its root is where `check` keeps the cache too.
        if not self.use_cache or settings.config_path is None:
            return None
        from torchlint.cache import DEFAULT_DIR, ResultCache

        directory = os.path.join(settings.project_root, DEFAULT_DIR)
        index = (directory, settings.fingerprint())
        if index not in self._caches:
            self._caches[index] = ResultCache(directory, index[1])
        return self._caches[index]


def fix_all(snapshot: Snapshot, settings: Settings) -> dict[int | None, str]:
    """The new text of every part that the safe fixes change (rounds, re-parsing: as `--fix`)."""
    from torchlint.fixes import fix_bytes
    from torchlint.source import SourceError, decode_python

    outcome = fix_bytes(snapshot.data, snapshot.engine_path, settings, unsafe=False)
    if outcome.error is not None or not outcome.changed:
        return {}
    if not snapshot.is_notebook:
        try:
            return {None: decode_python(outcome.fixed).text}
        except SourceError:
            return {}
    cells = json.loads(outcome.fixed.decode("utf-8"))["cells"]
    changed = {}
    for index, part in snapshot.parts.items():
        source = cells[index - 1].get("source", "")
        text = "".join(source) if isinstance(source, list) else source
        if text != part.text:
            changed[index] = text
    return changed
