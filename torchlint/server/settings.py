"""Which settings apply to an open document: `check`'s resolution, remembered per config file.

A document gets the settings of the nearest pyproject.toml with a `[tool.torchlint]` table above
it (per-file ignores and rule options included), with the client's `initializationOptions`
selection applied on top as the command line's would be. Excluded files get no findings, as with
`check --force-exclude`. `reload()` forgets everything, for when a pyproject.toml changes.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from torchlint.config import ConfigError, SelectionLayer, Settings, find_config, load_settings


@dataclass(frozen=True)
class Resolved:
    """The settings for one document, and the problem met on the way (shown once to the user)."""

    settings: Settings
    problem: str | None = None


def selection_from_options(options: Any) -> tuple[SelectionLayer, str | None]:
    """The `select` / `extend-select` / `ignore` overrides of `initializationOptions`.

    Returns the layer and a problem message for a malformed value (which is then left out).
    """
    if not isinstance(options, dict):
        return SelectionLayer(), None if options is None else "initializationOptions must be an object"
    layer = SelectionLayer()
    problems = []
    for key, field in (
        ("select", "select"),
        ("extend-select", "extend_select"),
        ("extendSelect", "extend_select"),
        ("ignore", "ignore"),
    ):
        if key not in options:
            continue
        value = options[key]
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            problems.append(f"initializationOptions `{key}` must be a list of rule codes or names")
            continue
        setattr(layer, field, list(value) if field == "select" else getattr(layer, field) + list(value))
    return layer, "; ".join(problems) or None


class WorkspaceSettings:
    """Settings per config file, resolved on first use and kept until `reload()`."""

    def __init__(self, overrides: SelectionLayer, root: str | None = None) -> None:
        self.overrides = overrides
        self.root = root
        self._by_config: dict[str | None, Resolved] = {}
        self._config_of: dict[str, str | None] = {}

    def reload(self) -> None:
        self._by_config.clear()
        self._config_of.clear()

    def for_path(self, path: str | None) -> Resolved:
        """The settings of a document at `path` (None: a document not saved to disk yet)."""
        start = path or self.root or os.getcwd()
        directory = os.path.dirname(start) if path else start
        if directory not in self._config_of:
            self._config_of[directory] = find_config(start)
        config = self._config_of[directory]
        if config not in self._by_config:
            self._by_config[config] = self._load(config)
        return self._by_config[config]

    def _load(self, config: str | None) -> Resolved:
        try:
            return Resolved(load_settings(config, self.overrides, isolated=config is None))
        except ConfigError as exc:
            problem = str(exc)
        # A broken config must not leave the editor without findings: the defaults still apply.
        try:
            return Resolved(load_settings(None, self.overrides, isolated=True), problem)
        except ConfigError as exc:
            return Resolved(load_settings(None, SelectionLayer(), isolated=True), f"{problem}; {exc}")

    def excluded(self, path: str | None, settings: Settings) -> bool:
        """Whether `check --force-exclude` would skip this file (excludes, .gitignore)."""
        if path is None:
            return False
        from torchlint.discovery import discover

        forced = dataclasses.replace(settings, force_exclude=True)
        return not any(True for _ in discover([path], forced))
