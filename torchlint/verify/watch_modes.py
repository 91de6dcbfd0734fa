"""Watched calls for module modes: `train()`/`eval()` and module forwards made by the program.

- `nn.Module.train` / `nn.Module.eval`: the module and the mode it is left in (`ModeSwitch`);
- `nn.Module.__call__`: the outermost forward the program makes (a module's calls to its children
  are not recorded), with the module's mode, whether gradients were enabled and the output needs
  them (`ModuleForward`). A hook on the output marks the record when a later `backward()` or
  `torch.autograd.grad` reaches it; the output itself is not kept, so graphs are freed as usual.
"""

from __future__ import annotations

import weakref

from torchlint.rules.oracles.observations import ModeSwitch, ModuleForward

_HOOKED_OUTPUTS = 4  # tensors of one output that get a marking hook


def patch_modes(tracer) -> None:
    import torch

    for name in ("train", "eval"):
        tracer._patch(torch.nn.Module, name, _mode_handler, kind="mode")
    tracer._patch(torch.nn.Module, "__call__", _forward_handler, kind="forward")


def _mode_handler(tracer, frame, original, name, args, kwargs):
    result = original(*args, **kwargs)
    module = args[0]
    with tracer.quiet():
        tracer.record(ModeSwitch, name, frame, module=_reference(module), training=bool(module.training))
    return result


def _forward_handler(tracer, frame, original, name, args, kwargs):
    if getattr(tracer, "_in_forward", False):
        return original(*args, **kwargs)
    import torch

    module = args[0]
    training = bool(module.training)
    with tracer.quiet():
        eval_modules = sum(not m.training for m in module.modules())
    grad_enabled = torch.is_grad_enabled()
    tracer._in_forward = True
    try:
        result = original(*args, **kwargs)
    finally:
        tracer._in_forward = False
    with tracer.quiet():
        tensors = [t for t in _tensors(result) if t.requires_grad]
        call = tracer.record(ModuleForward, type(module).__name__, frame, module=_reference(module), training=training,
                             eval_modules=eval_modules, grad_enabled=grad_enabled, requires_grad=bool(tensors),
                             grad_fn=type(tensors[0].grad_fn).__name__ if tensors and tensors[0].grad_fn else "")
        for tensor in tensors[:_HOOKED_OUTPUTS]:
            tensor.register_hook(_marker(call))
    return result


def _marker(call):
    def mark(grad):
        call.backpropagated = True

    return mark


def _reference(module):
    try:
        return weakref.ref(module)
    except TypeError:
        return lambda: module


def _tensors(value, depth: int = 0) -> list:
    """The tensors of a module's output: itself, or those in a tuple, list, dict or model output."""
    import torch

    if isinstance(value, torch.Tensor):
        return [value]
    if depth > 1:
        return []
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        return [t for item in value[:8] for t in _tensors(item, depth + 1)]
    return []
