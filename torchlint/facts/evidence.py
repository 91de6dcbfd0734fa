"""Evidence: the one way a fact points at the code that supports it.

A fact that has a reason says which node shows it and why, as a member of its domain's reason
enum (never a sentence). The rule that judges turns evidence into a note in its own words.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Evidence:
    # The node that shows the reason (None when the fact has no single place). Left out of
    # equality, so that two facts with the same reason and details compare equal across paths.
    node: Any = field(repr=False, compare=False)
    reason: enum.Enum | None = None  # what the node shows, in the domain's terms
    name: str = ""  # the name, method, class or source of the operation the reason is about
    roles: frozenset = frozenset()  # data roles the node shows, for role evidence
    dim: int | None = None  # the dimension the reason is about, for tensor evidence
