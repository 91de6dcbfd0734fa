"""A module proxy that imports on first attribute access.

Rule modules bind `cst = lazy_module("libcst")` at their top so that listing the catalogue, or
skipping a file that cannot trigger any rule, never pays for importing LibCST.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class _LazyModule(ModuleType):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__dict__["_torchlint_target"] = name

    def __getattr__(self, attr: str) -> Any:
        module = importlib.import_module(self.__dict__["_torchlint_target"])
        value = getattr(module, attr)
        self.__dict__[attr] = value  # later lookups skip __getattr__
        return value


def lazy_module(name: str) -> Any:
    """Return `name` as a proxy that imports the real module the first time it is used."""
    return _LazyModule(name)
