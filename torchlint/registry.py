"""The rule catalogue: every `Rule` subclass found in the `torchlint.rules` package."""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from torchlint.diagnostics import Diagnostic, Position, Severity, Span
from torchlint.rule import Rule


@lru_cache(maxsize=1)
def all_rules() -> tuple[type[Rule], ...]:
    """Every rule (one per module of the package), sorted by code. Imports no LibCST."""
    import torchlint.rules as package

    found: list[type[Rule]] = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_") or info.ispkg:  # `oracles/` holds the runtime oracles, not rules
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Rule)
                and value is not Rule
                and value.__module__ == module.__name__
                and getattr(value, "code", None)
            ):
                found.append(value)
    codes = [rule.code for rule in found]
    duplicates = {code for code in codes if codes.count(code) > 1}
    if duplicates:
        raise RuntimeError(f"rule codes defined twice: {sorted(duplicates)}")
    return tuple(sorted(found, key=lambda rule: rule.code))


@lru_cache(maxsize=1)
def _index() -> dict[str, type[Rule]]:
    index = {rule.code: rule for rule in all_rules()}
    index.update({rule.name: rule for rule in all_rules()})
    return index


def lookup(code_or_name: str) -> type[Rule] | None:
    """The rule with this code (any case) or kebab-case name."""
    key = code_or_name.strip()
    return _index().get(key.upper()) or _index().get(key.lower())


def make_diagnostic(code: str, message: str, path: str, row: int = 1, column: int = 1, **extra) -> Diagnostic:
    """A diagnostic of a catalogue code at one point: how the engine reports files it cannot lint."""
    rule = lookup(code)
    start = Position(row, column)
    return Diagnostic(
        code=code,
        name=rule.name if rule else code,
        message=message,
        severity=rule.severity if rule else Severity.ERROR,
        path=path,
        span=Span(start, start),
        **extra,
    )
