"""More watched calls for the tracer: softmax functions, module construction, factories and moves.

Kept beside `tracer.py` (which calls `patch_nn(tracer)` when it patches torch) so the handlers for
the second wave of rules stay in one place:

- `F.softmax`/`F.log_softmax`/`F.softmin`: the warnings the call raised (`SoftmaxCall`);
- `nn.Module.__init__`: the module built and the module whose method was building it
  (`ModuleCreated`), attributed to the user's line that asked for it;
- `F.cross_entropy`/`F.binary_cross_entropy_with_logits`: copies of the input and target (`LossCall`);
- tensor factories (`torch.zeros`, ...): which tensors they made and whether `device=` was given,
  so that a later `.to(...)`/`.cuda()` on such a tensor is recorded as a `DeviceMove`.
"""

from __future__ import annotations

import warnings
import weakref

from torchlint.rules.oracles.observations import DeviceMove, LossCall, ModuleCreated, SoftmaxCall

FACTORIES = ("zeros", "ones", "empty", "full", "rand", "randn", "randint", "arange", "eye", "tensor")
SOFTMAX_FUNCTIONS = ("softmax", "log_softmax", "softmin")
LOSSES = ("cross_entropy", "binary_cross_entropy_with_logits")
_RECENT = 256  # factory results remembered (weakly) for a later move


def patch_nn(tracer) -> None:
    import torch
    import torch.nn.functional as F

    for name in SOFTMAX_FUNCTIONS:
        tracer._patch(F, name, _softmax_handler, kind="softmax")
    for name in LOSSES:  # walked out of `CrossEntropyLoss.forward` to the user's line
        tracer._patch(F, name, _loss_handler, walk_out=True, kind="loss")
    tracer._patch(torch.nn.Module, "__init__", _module_handler, walk_out=True, kind="module")
    for name in FACTORIES:
        tracer._patch(torch, name, _factory_handler, kind="factory")
    for name in ("to", "cuda"):
        tracer._patch(torch.Tensor, name, _move_handler, kind="move")


def _softmax_handler(tracer, frame, original, name, args, kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = original(*args, **kwargs)
    for warning in caught:  # hand them on as the program would have seen them
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    tracer.record(SoftmaxCall, name, frame, warnings=tuple(str(w.message) for w in caught))
    return result


def _module_handler(tracer, frame, original, name, args, kwargs):
    result = original(*args, **kwargs)
    module = args[0]
    with tracer.quiet():
        tracer.record(ModuleCreated, type(module).__name__, frame, module=module, owner=_owner(frame, module))
    return result


def _owner(frame, module):
    """The nearest enclosing `self` that is another `nn.Module` (comprehension frames skipped)."""
    import torch

    for _ in range(4):
        if frame is None:
            return None
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, torch.nn.Module) and candidate is not module:
            return candidate
        frame = frame.f_back
    return None


def _factories(tracer) -> dict:
    found = getattr(tracer, "_watch_factories", None)
    if found is None:
        found = tracer._watch_factories = {}
    return found


def _factory_handler(tracer, frame, original, name, args, kwargs):
    result = original(*args, **kwargs)
    try:
        reference = weakref.ref(result)
    except TypeError:
        return result
    made = _factories(tracer)
    if len(made) >= _RECENT:
        made.pop(next(iter(made)))
    made[id(result)] = (reference, name, "device" in kwargs, kwargs.get("generator") is not None)
    return result


def _move_handler(tracer, frame, original, name, args, kwargs):
    source = args[0]
    entry = _factories(tracer).get(id(source))
    if entry is None or entry[0]() is not source:
        return original(*args, **kwargs)
    try:
        result = original(*args, **kwargs)
    except Exception as exc:
        tracer.record(DeviceMove, name, frame, source=source, factory=entry[1], factory_device=entry[2],
                      factory_generator=entry[3]).error = exc
        raise
    tracer.record(DeviceMove, name, frame, source=source, result=result, factory=entry[1], factory_device=entry[2],
                  factory_generator=entry[3])
    return result


def _loss_handler(tracer, frame, original, name, args, kwargs):
    with tracer.quiet():
        given = list(args) + [kwargs.get("input"), kwargs.get("target")][len(args):]
        copies = [value.detach().clone() if hasattr(value, "detach") else value for value in given[:2]]
        options = {k: v for k, v in kwargs.items() if k not in ("input", "target")}
    call = tracer.record(LossCall, name, frame, input=copies[0], target=copies[1] if len(copies) > 1 else None,
                         kwargs=options)
    try:
        result = original(*args, **kwargs)
    except Exception as exc:
        call.error = exc
        raise
    from torchlint.verify.watch_accumulation import note_loss

    note_loss(tracer, frame, name, result)  # TL203: the loss's graph
    return result
