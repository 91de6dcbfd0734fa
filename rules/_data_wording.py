"""Wording shared by the data rules: how a fitted object and the evidence of a role are named."""

from __future__ import annotations

from torchlint._lazy import lazy_module
from torchlint.facts.data import Because, Evidence, FitEvent
from torchlint.facts.statements import snippet
from torchlint.rule import NodeNote

cst = lazy_module("libcst")


def subject(fit: FitEvent) -> str:
    """ "`scaler` (StandardScaler)", or just "`scaler`" when the class is not known."""
    receiver = f"`{snippet(fit.call.func.value)}`" if isinstance(fit.call.func, cst.Attribute) else "the object"
    return f"{receiver} ({fit.obj.class_name})" if fit.obj.class_name else receiver


def role_note(evidence: Evidence) -> NodeNote:
    """Why a value is training, test or validation data, in words."""
    roles = " and ".join(sorted(role.value for role in evidence.roles))
    if evidence.reason is Because.NAME:
        label = f"`{evidence.name}` is named as {roles} data"
    elif evidence.reason is Because.FOLD_INDICES:
        label = f"{roles} indices of the `split` here"
    elif evidence.reason is Because.SPLIT_PART:
        label = f"the {roles} part returned by `train_test_split` here"
    elif evidence.reason is Because.FILE_NAME:
        label = f"read from a file named as {roles} data"
    elif evidence.reason is Because.LOADER_NAME:
        label = f"`{evidence.name}` loads {roles} data"
    else:
        label = f"{roles} data"
    return NodeNote(evidence.node, label)
