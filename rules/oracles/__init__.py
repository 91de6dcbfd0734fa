"""Runtime oracles: for each rule, what `torchlint verify` watches and how it judges what it saw.

One module per rule, named like the rule's module (`oracles/tl101_repeat_could_be_expand.py` for
`rules/tl101_repeat_could_be_expand.py`), holding `ORACLE = Oracle(...)`: the observation types it
watches (`observations.py`) and a `judge(observation, run) -> Verdict | None`. `verify` finds them
from the rule catalogue (`oracles_by_code()`), so a new rule becomes verifiable by adding its
oracle module, and a test fails when a rule with claims in its fixtures has none.

No module here imports torch, numpy or scikit-learn at import time (the catalogue is listed without
them); judges import what they need when they run, inside the verify worker.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from torchlint.rules.oracles.observations import Observation, Run, Verdict


@dataclass(frozen=True)
class Oracle:
    code: str
    watches: tuple[type[Observation], ...]
    judge: Callable[[Observation, Run], Verdict | None]  # None: this observation cannot speak to the claim
    raises: bool = False  # the claim is that the call raises: a crash there was predicted
    # The finding may sit on a statement that is not itself the watched call (a loop, a
    # `zero_grad()`, a split): the claim is judged by the watched calls around it.
    around: bool = False
    # A call that holds where nothing was flagged is a runtime-only site worth listing (bytes).
    runtime_only: bool = False


def module_name(rule_module: str) -> str:
    """`torchlint.rules.tl101_x` -> `torchlint.rules.oracles.tl101_x`."""
    return f"{__name__}.{rule_module.rsplit('.', 1)[-1]}"


@lru_cache(maxsize=1)
def oracles_by_code() -> dict[str, Oracle]:
    """Every catalogue rule's oracle, by code; rules without an oracle module are absent."""
    from torchlint.registry import all_rules

    found = {}
    for rule in all_rules():
        try:
            module = importlib.import_module(module_name(rule.__module__))
        except ModuleNotFoundError as exc:
            if exc.name != module_name(rule.__module__):
                raise
            continue
        oracle = getattr(module, "ORACLE", None)
        if isinstance(oracle, Oracle):
            if oracle.code != rule.code:
                raise RuntimeError(f"{module.__name__} declares {oracle.code}, not {rule.code}")
            found[rule.code] = oracle
    return found


def judge_all(observation: Observation, run: Run) -> dict[str, Verdict]:
    """Every oracle that watches this kind of observation, with its verdict."""
    verdicts = {}
    for code, oracle in oracles_by_code().items():
        if isinstance(observation, oracle.watches):
            verdict = oracle.judge(observation, run)
            if verdict is not None:
                verdicts[code] = verdict
    return verdicts


def first_line(exc: BaseException) -> str:
    """`Type: first sentence of the message`, short enough for a table cell."""
    lines = str(exc).strip().splitlines()
    sentence = (lines[0] if lines else "").split(". ")[0].rstrip(".")
    return f"{type(exc).__name__}: {sentence}"[:160] if sentence else type(exc).__name__
