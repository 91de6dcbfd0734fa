"""More watched calls for the tracer: learning-rate scheduler steps and distributed sampler epochs.

Kept beside `tracer.py` (which calls `patch_training(tracer)` when it patches torch):

- `LRScheduler.step` (every subclass that defines its own): whether the optimizer had stepped
  before the scheduler's first step, the warnings PyTorch raised and the learning rates before and
  after (`SchedulerStep`); walked out of torch so a scheduler stepped by another (`SequentialLR`)
  is not the user's call;
- `DistributedSampler.__iter__`: the indices of one pass, attributed to the user's `for` over the
  loader (`SamplerEpoch`).
"""

from __future__ import annotations

import warnings

from torchlint.rules.oracles.observations import SamplerEpoch, SchedulerStep


_SERIALS = [0]


def patch_training(tracer) -> None:
    import torch.optim.lr_scheduler as schedulers
    import torch.utils.data.distributed as distributed

    from torchlint.verify.tracer import _subclasses

    base = getattr(schedulers, "LRScheduler", None) or schedulers._LRScheduler
    for cls in _subclasses(base):
        if "step" in vars(cls):
            tracer._patch(cls, "step", _scheduler_handler, kind="scheduler")
    tracer._patch(distributed.DistributedSampler, "__iter__", _sampler_handler, walk_out=True, kind="sampler")


def _rates(scheduler) -> tuple[float, ...]:
    try:
        return tuple(float(group["lr"]) for group in scheduler.optimizer.param_groups)
    except (AttributeError, KeyError, TypeError, ValueError):
        return ()


def _scheduler_handler(tracer, frame, original, name, args, kwargs):
    scheduler = args[0]
    first = getattr(scheduler, "_step_count", 0) <= 1
    stepped = bool(getattr(getattr(scheduler, "optimizer", None), "_opt_called", False))
    before = _rates(scheduler)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = original(*args, **kwargs)
        except Exception as exc:
            tracer.record(SchedulerStep, name, frame, scheduler=type(scheduler).__name__).error = exc
            raise
    for warning in caught:  # hand them on as the program would have seen them
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    tracer.record(SchedulerStep, name, frame, scheduler=type(scheduler).__name__, first=first,
                  optimizer_stepped=stepped, explicit=len(args) > 1 or bool(kwargs),
                  warnings=tuple(str(w.message) for w in caught), lr_before=before, lr_after=_rates(scheduler))
    return result


def _sampler_handler(tracer, frame, original, name, args, kwargs):
    sampler = args[0]
    order = tuple(int(i) for i in original(*args, **kwargs))
    serial = getattr(sampler, "_torchlint_serial", None)
    if serial is None:  # not id(): a sampler of a later case may reuse a freed one's id
        serial = _SERIALS[0] = _SERIALS[0] + 1
        try:
            sampler._torchlint_serial = serial
        except AttributeError:
            pass
    tracer.record(SamplerEpoch, type(sampler).__name__, frame, sampler=serial,
                  epoch=int(getattr(sampler, "epoch", 0)), shuffle=bool(getattr(sampler, "shuffle", True)),
                  order=order)
    return iter(order)
