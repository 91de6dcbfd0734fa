"""Settings: `[tool.torchlint]` in pyproject.toml, then the command line, resolved once per run."""

from __future__ import annotations

import fnmatch
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Iterable

from torchlint import codes

DEFAULT_EXCLUDE = (
    ".bzr", ".direnv", ".eggs", ".git", ".hg", ".ipynb_checkpoints", ".mypy_cache", ".nox",
    ".pants.d", ".pytest_cache", ".ruff_cache", ".svn", ".tox", ".torchlint_cache", ".venv",
    "__pypackages__", "__pycache__", "_build", "build", "dist", "node_modules", "site-packages",
    "venv",
)
KNOWN_KEYS = frozenset({
    "select", "ignore", "extend-select", "per-file-ignores", "exclude", "extend-exclude",
    "respect-gitignore", "force-exclude", "max-file-size",
})
# Larger files are reported (TL002), not analysed: LibCST needs ~7 s and ~400 MB per megabyte.
DEFAULT_MAX_FILE_SIZE = 2 * 1024 * 1024


class ConfigError(Exception):
    """A bad setting: the CLI prints the message and exits 2."""


@dataclass(frozen=True)
class Settings:
    enabled: frozenset[str]
    per_file_ignores: tuple[tuple[str, frozenset[str]], ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: tuple[str, ...] = ()
    respect_gitignore: bool = True
    force_exclude: bool = False
    project_root: str = "."
    config_path: str | None = None
    max_file_size: int | None = DEFAULT_MAX_FILE_SIZE  # bytes; None: no limit

    def rules_for(self, path: str) -> frozenset[str]:
        """The codes enabled for one file, after per-file-ignores."""
        if not self.per_file_ignores:
            return self.enabled | {codes.INTERNAL_ERROR}
        relative = _relative(path, self.project_root)
        ignored: set[str] = set()
        for pattern, selected in self.per_file_ignores:
            if _glob_match(relative, pattern):
                ignored |= selected
        return (self.enabled - ignored) | {codes.INTERNAL_ERROR}

    def fingerprint(self) -> str:
        """A stable text that changes whenever a setting that affects findings changes."""
        import json

        return json.dumps(
            [sorted(self.enabled), [(p, sorted(c)) for p, c in self.per_file_ignores], self.max_file_size],
            sort_keys=True,
            default=str,
        )


def _relative(path: str, root: str) -> str:
    try:
        relative = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    except ValueError:
        relative = path
    return relative.replace(os.sep, "/")


def _glob_match(relative: str, pattern: str) -> bool:
    pattern = pattern.replace(os.sep, "/")
    if "/" not in pattern:
        return fnmatch.fnmatchcase(relative.rsplit("/", 1)[-1], pattern) or fnmatch.fnmatchcase(relative, pattern)
    return fnmatch.fnmatchcase(relative, pattern.lstrip("./")) or fnmatch.fnmatchcase(relative, pattern)


def resolve_selectors(words: Iterable[str], *, where: str) -> set[str]:
    """Codes for `ALL`, a code, a code prefix (`TL1`) or a rule name; unknown words are errors."""
    from torchlint.registry import all_rules

    every = {rule.code: rule for rule in all_rules()}
    selected: set[str] = set()
    for raw in words:
        word = raw.strip()
        if not word:
            continue
        if word.upper() == "ALL":
            selected |= set(every)
            continue
        by_prefix = {code for code in every if code.startswith(word.upper())} if word.upper().startswith("TL") else set()
        by_name = {code for code, rule in every.items() if rule.name == word.lower()}
        if not (by_prefix or by_name):
            raise ConfigError(f"unknown rule selector `{word}` in {where}; see `torchlint rule --all`")
        selected |= by_prefix | by_name
    return selected


@dataclass
class SelectionLayer:
    select: list[str] | None = None
    extend_select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)


def resolve_enabled(layers: list[tuple[SelectionLayer, str]]) -> frozenset[str]:
    """Apply layers in order (config, then command line), as Ruff does."""
    enabled = resolve_selectors(["ALL"], where="defaults")
    for layer, where in layers:
        if layer.select is not None:
            enabled = resolve_selectors(layer.select, where=where)
        enabled |= resolve_selectors(layer.extend_select, where=where)
        enabled -= resolve_selectors(layer.ignore, where=where)
    return frozenset(enabled)


def find_config(start: str) -> str | None:
    """The nearest pyproject.toml with a [tool.torchlint] table, from `start` upwards."""
    directory = os.path.abspath(start if os.path.isdir(start) else os.path.dirname(start) or ".")
    while True:
        candidate = os.path.join(directory, "pyproject.toml")
        if os.path.isfile(candidate):
            try:
                with open(candidate, "rb") as handle:
                    if b"[tool.torchlint" in handle.read():
                        return candidate
            except OSError:
                pass
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def load_table(path: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"invalid TOML in {path}: not valid UTF-8 (byte offset {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML in {path}: {exc}") from None
    tool = document.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"`tool` in {path} must be a table")
    if os.path.basename(path) == "pyproject.toml":
        table = tool.get("torchlint", {})
    else:  # a dedicated torchlint.toml given with --config
        table = tool.get("torchlint", document)
    if not isinstance(table, dict):
        raise ConfigError(f"[tool.torchlint] in {path} must be a table")
    return table


def _string_list(table: dict, key: str, path: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"`{key}` in {path} must be a list of strings")
    return value


def _bool(table: dict, key: str, path: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"`{key}` in {path} must be true or false")
    return value


def load_settings(
    config_path: str | None,
    cli: SelectionLayer,
    *,
    search_from: str = ".",
    cli_extend_exclude: Iterable[str] = (),
    cli_exclude: Iterable[str] | None = None,
    force_exclude: bool | None = None,
    respect_gitignore: bool | None = None,
    isolated: bool = False,
    max_file_size: str | int | None = None,
) -> Settings:
    if config_path is None and not isolated:
        config_path = find_config(search_from)
    table: dict[str, Any] = load_table(config_path) if config_path else {}
    where = config_path or "settings"
    if "rules" in table:
        # Rules had an options table that no rule ever declared an option for; saying so beats
        # silently ignoring a setting the user believes is in force.
        raise ConfigError(
            f"`[tool.torchlint.rules]` in {where} is not supported: torchlint rules have no options; "
            "remove the table (select, ignore and per-file-ignores choose rules)"
        )
    unknown = sorted(set(table) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"unknown key `{unknown[0]}` in [tool.torchlint] of {where}; known keys: {', '.join(sorted(KNOWN_KEYS))}")
    config_layer = SelectionLayer(
        select=_string_list(table, "select", where) if "select" in table else None,
        extend_select=_string_list(table, "extend-select", where),
        ignore=_string_list(table, "ignore", where),
    )
    enabled = resolve_enabled([(config_layer, where), (cli, "the command line")])
    per_file = table.get("per-file-ignores", {})
    if not isinstance(per_file, dict):
        raise ConfigError(f"`per-file-ignores` in {where} must be a table of glob = [codes]")
    per_file_ignores = tuple(
        (pattern, frozenset(resolve_selectors(_string_list(per_file, pattern, where), where=f"per-file-ignores of {where}")))
        for pattern in per_file
    )
    exclude = tuple(_string_list(table, "exclude", where)) if "exclude" in table else DEFAULT_EXCLUDE
    if cli_exclude is not None:
        exclude = tuple(cli_exclude)
    return Settings(
        enabled=enabled,
        per_file_ignores=per_file_ignores,
        exclude=exclude,
        extend_exclude=tuple(_string_list(table, "extend-exclude", where)) + tuple(cli_extend_exclude),
        respect_gitignore=_bool(table, "respect-gitignore", where, True) if respect_gitignore is None else respect_gitignore,
        force_exclude=_bool(table, "force-exclude", where, False) if force_exclude is None else force_exclude,
        project_root=os.path.dirname(os.path.abspath(config_path)) if config_path else os.path.abspath("."),
        config_path=config_path,
        max_file_size=parse_size(
            max_file_size if max_file_size is not None else table.get("max-file-size", DEFAULT_MAX_FILE_SIZE),
            "--max-file-size" if max_file_size is not None else f"`max-file-size` in {where}",
        ),
    )


def parse_size(value: Any, where: str) -> int | None:
    """Bytes from `2097152`, `"2MB"`, `"512 KB"` or `"1.5 MiB"`; 0 means no limit (None)."""
    import re

    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ConfigError(f"{where} must be a size such as 2097152 or \"2MB\" (0: no limit)")
    if isinstance(value, int):
        size = value
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*", value, re.IGNORECASE)
        if match is None:
            raise ConfigError(f"{where} must be a size such as 2097152 or \"2MB\" (0: no limit), not {value!r}")
        unit = (match.group(2) or "b").lower()[:1]
        size = int(float(match.group(1)) * {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit])
    if size < 0:
        raise ConfigError(f"{where} must not be negative")
    return size or None

