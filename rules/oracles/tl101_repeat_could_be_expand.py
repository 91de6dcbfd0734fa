"""TL101 at run time: the repeat allocated k times its input, and `expand` to the same shape
allocates 0 bytes with equal values, while the program only reads the result."""

from __future__ import annotations

from torchlint.rules.oracles import Oracle, first_line
from torchlint.rules.oracles.observations import RepeatCall, Run, Verdict


def judge(call: RepeatCall, run: Run) -> Verdict:
    if call.error is not None:
        return Verdict(False, f"repeat raised {first_line(call.error)}")
    source, sizes = call.source, call.sizes
    lead = len(sizes) - source.dim()
    grown = [i for i, k in enumerate(sizes[lead:]) if k != 1]
    wide = [i for i in grown if source.shape[i] != 1]
    evidence = {"allocated_bytes": call.allocated_bytes, "alternative_bytes": call.alternative_bytes,
                "source_shape": list(source.shape), "repeats": list(sizes)}
    k = max(call.allocated_bytes, 1) / max(call.source_bytes, 1)
    if wide:
        return Verdict(False, f"repeated dim {wide[0]} has size {source.shape[wide[0]]}: values differ from expand",
                       evidence)
    if not call.new_storage or not call.alternative_equal or call.alternative_bytes != 0:
        return Verdict(False, f"expand is no alternative ({call.alternative_error or 'values or bytes differ'})",
                       evidence)
    if call.written_at is not None or call.result._version != call.version:
        where = f" on line {call.written_at}" if call.written_at is not None else ""
        return Verdict(False, f"result written in place{where}: needs its own storage", evidence)
    blocked = _followup_blocks_expand(call)
    if blocked:
        return Verdict(False, blocked, evidence)
    return Verdict(True, f"repeat allocated {call.allocated_bytes} B ({k:.0f}x the input); "
                         f"expand: {call.alternative_bytes} B, equal values", evidence)


def _followup_blocks_expand(call: RepeatCall) -> str | None:
    """Replay the program's later view/reshape/flatten of the result on the expanded alternative."""
    import torch

    source = call.source
    expanded = source.expand(call.result.shape)
    for followup in call.followups:
        try:
            out = getattr(torch.Tensor, followup.name)(expanded, *followup.args, **followup.kwargs)
        except RuntimeError as exc:
            return (f"`{followup.name}` on line {followup.line} would raise on the expanded tensor "
                    f"({first_line(exc)[:60]})")
        if out.untyped_storage().data_ptr() != source.untyped_storage().data_ptr():
            copied = out.numel() * out.element_size()
            return f"`{followup.name}` on line {followup.line} copies the expanded tensor anyway ({copied} B)"
    return None


ORACLE = Oracle("TL101", (RepeatCall,), judge, runtime_only=True)
