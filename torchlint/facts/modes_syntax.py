"""The word lists and syntax questions behind `modes`: mode-keeping calls, grad-mode contexts,
statements flattened per loop, the calls of a statement."""

from __future__ import annotations

import re
from typing import Iterator

from torchlint._lazy import lazy_module
from torchlint.facts.names import dotted_name
from torchlint.facts.statements import (
    body_of,
    child_bodies,
    header_calls,
    small_statements,
)

cst = lazy_module("libcst")


INLINE_DEPTH = 3
# Libraries whose presence says the file runs torch models.
_TORCH_LIBRARIES = ("torch", "lightning", "pytorch_lightning", "transformers", "accelerate", "timm", "d2l",
                    "fastai", "torchvision", "deepspeed")
# Methods of a module that cannot change its mode.
_MODE_KEEPING_METHODS = frozenset({
    "parameters", "named_parameters", "buffers", "named_buffers", "children", "named_children", "modules",
    "named_modules", "state_dict", "load_state_dict", "to", "cuda", "cpu", "half", "float", "double",
    "bfloat16", "zero_grad", "forward", "eval", "requires_grad_", "register_buffer", "register_parameter",
    "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook", "save_pretrained",
    "get_parameter", "get_submodule", "generate", "type", "share_memory", "extra_repr", "numel",
})
# Callees that take a model without changing its mode.
_MODE_KEEPING_FUNCTIONS = frozenset({
    "print", "len", "str", "repr", "isinstance", "type", "id", "getattr", "hasattr", "setattr", "vars",
    "sum", "max", "min", "list", "tuple", "dict", "set", "enumerate", "zip", "range", "iter", "next",
    "sorted", "format", "float", "int", "round", "abs",
})
_MODE_KEEPING_PREFIXES = ("torch.", "copy.", "logging.", "wandb.", "numpy.", "math.", "os.", "json.", "pickle.")
# Callees named for bookkeeping around training; evaluation and training helpers are not among them
# (an imported `evaluate(model)` may well end with `model.train()`).
_UTILITY = re.compile(
    r"(?i)(?:^|[._])(?:\w*_)?(?:save|log|logger|print|watch|checkpoint|count|summary|gather|reduce|distribute|"
    r"broadcast|sync|unwrap|profile|clip|register|hook|ema|swa|average|prepare|wrap|plot|show|visuali[sz]e|"
    r"accumulate|autocast|barrier|wait|export|dump|load|update)\w*$"
)
# Lightning hooks run under `no_grad` and toggle modes themselves.
_FRAMEWORK_EVAL_METHODS = frozenset({
    "validation_step", "test_step", "predict_step", "validation_epoch_end", "test_epoch_end",
    "on_validation_epoch_end", "on_test_epoch_end", "on_validation_epoch_start", "on_validation_start",
    "on_validation_end", "on_test_start", "on_test_end", "training_step", "configure_optimizers",
})
_NO_GRAD = frozenset({"torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad",
                      "torch.autograd.grad_mode.no_grad", "torch.autograd.grad_mode.inference_mode"})
_SET_GRAD = frozenset({"torch.set_grad_enabled", "torch.autograd.set_grad_enabled",
                       "torch.autograd.grad_mode.set_grad_enabled"})
_ENABLE_GRAD = frozenset({"torch.enable_grad", "torch.autograd.enable_grad"})


class _Context:
    """Where the step collector stands: the class of the code, renamed parameters, depth."""

    def __init__(self, class_, rename=None, depth: int = 0, active=(), site=None, inherits: bool = False):
        self.class_ = class_
        self.rename = rename
        self.depth = depth
        self.active = active
        self.site = site
        self.inherits = inherits  # forwards here are training ones: the caller back-propagates after the call

    def inlined(self, class_, callee, rename: dict, site, inherits: bool) -> _Context:
        return _Context(class_, rename, self.depth + 1, self.active + (id(callee),), site, inherits)

    def key(self, node) -> str | None:
        text = dotted_name(node)
        if text is None or self.rename is None:
            return text
        root, dot, rest = text.partition(".")
        if root in self.rename:
            mapped = self.rename[root]
            return None if mapped is None else mapped + dot + rest
        return text


def _is_false(expr) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "False"


def _requires_grad(call) -> bool:
    """`x.requires_grad_()` / `x.requires_grad_(True)`: an input that wants gradients."""
    func = call.func
    if not (isinstance(func, cst.Attribute) and func.attr.value == "requires_grad_"):
        return False
    return not call.args or not _is_false(call.args[0].value)


def _loop_body(loop) -> list:
    return body_of(loop.body)


def _loops_in(body) -> Iterator:
    for statement in _flat(body):
        if isinstance(statement, (cst.For, cst.While)):
            yield statement


def _flat(body) -> Iterator:
    """Every statement of a body, compound ones and their blocks, not entering definitions."""
    for statement in body:
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            continue
        yield statement
        for block in child_bodies(statement):
            yield from _flat(block)


def _flat_outside_parameter_loops(body) -> Iterator:
    """`_flat`, without the bodies of `for p in m.parameters():` (thawing parameters asks no input
    for gradients)."""
    for statement in body:
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            continue
        yield statement
        if isinstance(statement, cst.For) and isinstance(statement.iter, cst.Call) \
                and isinstance(statement.iter.func, cst.Attribute) \
                and statement.iter.func.attr.value in ("parameters", "named_parameters"):
            continue
        for block in child_bodies(statement):
            yield from _flat_outside_parameter_loops(block)


def _contains(statement, node) -> bool:
    return any(inner is node for inner in _flat([statement]))


def _ends_after(loop, site) -> bool:
    """Is the statement holding `site` in the loop's body followed by an unconditional exit?"""
    def search(block) -> bool | None:
        for index, statement in enumerate(block):
            if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                continue
            if any(call is site for call in header_calls(statement)):
                rest = block[index + 1:]
                return any(isinstance(small, (cst.Break, cst.Return, cst.Raise))
                           for s in rest for small in small_statements(s))
            if isinstance(statement, (cst.For, cst.While)):
                continue
            for child in child_bodies(statement):
                found = search(child)
                if found is not None:
                    return found
        return None

    return bool(search(_loop_body(loop)))
