"""Evidence: the one way a fact points at the code that supports it.

A fact that has a reason says which node shows it and why, as a member of its domain's reason
enum (never a sentence). The rule that judges turns evidence into a note in its own words.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Evidence:
    node: Any  # the node that shows the reason
    reason: enum.Enum  # what the node shows, in the domain's terms
    name: str = ""  # the name, method or class the reason is about, when there is one
    roles: frozenset = frozenset()  # data roles the node shows, for role evidence
