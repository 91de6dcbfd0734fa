"""Watched calls for values a loop accumulates: concatenation chains (TL105) and loss graphs (TL203).

Kept beside `tracer.py`, which calls `patch_accumulation(tracer)` when it patches torch:

- `torch.cat`/`concat`/`concatenate`/`vstack`/`hstack`/`row_stack`/`dstack` and NumPy's
  `concatenate`/`vstack`/`hstack`/`row_stack`/`dstack`/`append` (`CatCall`): the bytes each call
  wrote, and whether an input is the previous result of the same line (a chain that re-grows an
  accumulator). From the first chain on, a `TorchFunctionMode` notes any other torch operation
  that reads a chain's latest result (decoding loops read it; accumulators do not).
- loss modules (`_Loss.__call__`), functional losses and `Tensor.backward` (`LossGraph`): the
  root of the loss's graph gets a tag object in its `metadata` (watched by weak reference: it dies
  with the graph) and a pre-hook counting the backward passes through it. Each call looks at the
  graph its line made two calls earlier: still alive, and passed through since?
"""

from __future__ import annotations

import sys
import weakref
from collections import deque

from torchlint.rules.oracles.observations import CatCall, LossGraph

TORCH_CONCATENATIONS = ("cat", "concat", "concatenate", "vstack", "hstack", "row_stack", "dstack")
NUMPY_CONCATENATIONS = ("concatenate", "vstack", "hstack", "row_stack", "dstack", "append")
FUNCTIONAL_LOSSES = ("nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
                     "kl_div", "cross_entropy", "binary_cross_entropy_with_logits")
_KEPT_PER_LINE = 64  # graphs remembered per line (weakly)
_TAG = "torchlint.loss_graph"


class _State:
    def __init__(self) -> None:
        self.heads: dict[tuple[str, int], tuple] = {}  # line -> (weakref to latest result, its CatCall)
        self.watched: dict[int, list] = {}  # id(latest chain result) -> [weakref, read?]
        self.in_cat = 0
        self.mode = None
        self.graphs: dict[tuple[str, int], deque] = {}  # line -> deque of (weakref to tag, counter)


def _state(tracer) -> _State:
    found = getattr(tracer, "_watch_accumulation", None)
    if found is None:
        found = tracer._watch_accumulation = _State()
    return found


def patch_accumulation(tracer) -> None:
    import torch

    for name in TORCH_CONCATENATIONS:
        if hasattr(torch, name):
            tracer._patch(torch, name, _cat_handler, kind="cat")
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        for name in NUMPY_CONCATENATIONS:
            if hasattr(numpy, name):
                tracer._patch(numpy, name, _cat_handler, kind="cat")
    tracer._patch(torch.nn.modules.loss._Loss, "__call__", _criterion_handler, kind="loss")
    functional = torch.nn.functional
    for name in FUNCTIONAL_LOSSES:  # those already watched elsewhere call `note_loss` themselves
        tracer._patch(functional, name, _criterion_handler, walk_out=True, kind="loss")


def finish(tracer) -> None:
    """Leave the read-watching mode, if a chain started it."""
    state = getattr(tracer, "_watch_accumulation", None)
    if state is not None and state.mode is not None:
        mode, state.mode = state.mode, None
        try:
            mode.__exit__(None, None, None)
        except Exception:  # the program left its own mode on top: leave ours disabled instead
            mode.disabled = True


# -- concatenation chains ----------------------------------------------------------------------------

def _inputs(name, args, kwargs) -> list:
    first = args[0] if args else kwargs.get("tensors", kwargs.get("arrays", kwargs.get("arr")))
    if name == "append":
        return [first, args[1] if len(args) > 1 else kwargs.get("values")]
    return list(first) if isinstance(first, (list, tuple)) else [first]


def _nbytes(value) -> int:
    if hasattr(value, "element_size"):
        return value.numel() * value.element_size()
    return int(getattr(value, "nbytes", 0))


def _cat_handler(tracer, frame, original, name, args, kwargs):
    state = _state(tracer)
    state.in_cat += 1
    try:
        result = original(*args, **kwargs)
    except Exception as exc:
        state.in_cat -= 1
        tracer.record(CatCall, name, frame).error = exc
        raise
    state.in_cat -= 1
    with tracer.quiet():
        call = tracer.record(CatCall, name, frame, library="numpy" if not hasattr(result, "element_size") else "torch",
                             output_bytes=_nbytes(result))
        key = (call.file, call.line)
        head = state.heads.get(key)
        last = head[0]() if head is not None else None
        previous = head[1] if last is not None and any(value is last for value in _inputs(name, args, kwargs)) else None
        if previous is not None:
            call.chain = previous.chain + 1
            call.chain_bytes = previous.chain_bytes + call.output_bytes
            call.growing = previous.growing and call.output_bytes > previous.output_bytes
            entry = state.watched.get(id(last))
            if call.library == "torch":
                call.read_between = bool(entry and entry[1]) or bool(previous.read_between)
        else:
            call.chain_bytes = call.output_bytes
        if last is not None:
            state.watched.pop(id(last), None)
        try:
            reference = weakref.ref(result)
        except TypeError:
            return result
        state.heads[key] = (reference, call)
        if call.chain >= 2 and call.library == "torch":
            state.watched[id(result)] = [reference, False]
            _start_watching_reads(state)
    return result


def _start_watching_reads(state: _State) -> None:
    if state.mode is not None:
        return
    from torch.overrides import TorchFunctionMode

    class ReadWatch(TorchFunctionMode):
        disabled = False

        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if state.watched and not state.in_cat and not self.disabled:
                for value in _flat(args, kwargs):
                    entry = state.watched.get(id(value))
                    if entry is not None and entry[0]() is value:
                        entry[1] = True
            return func(*args, **kwargs)

    state.mode = ReadWatch()
    state.mode.__enter__()


def _flat(args, kwargs):
    for value in list(args) + list(kwargs.values()):
        if isinstance(value, (list, tuple)):
            yield from value
        else:
            yield value


# -- loss graphs -------------------------------------------------------------------------------------

class _Tag:
    """Lives in a graph root's `metadata`: it dies with the graph."""

    __slots__ = ("__weakref__",)


class _Passes:
    """Backward passes through one graph root, counted by a pre-hook."""

    __slots__ = ("passes",)

    def __init__(self) -> None:
        self.passes = 0


def _criterion_handler(tracer, frame, original, name, args, kwargs):
    result = original(*args, **kwargs)
    note_loss(tracer, frame, type(args[0]).__name__ if name == "__call__" else name, result)
    return result


def note_backward(tracer, frame, tensor) -> None:
    """`tensor.backward()` called from the program: a loss, whether or not a loss function made it."""
    note_loss(tracer, frame, "backward", tensor)


def note_loss(tracer, frame, name, loss) -> None:
    import torch

    if not isinstance(loss, torch.Tensor):
        return
    with tracer.quiet():
        root = loss.grad_fn
        if root is None:
            tracer.record(LossGraph, name, frame, graph=False)
            return
        try:
            metadata = root.metadata
        except (AttributeError, RuntimeError):
            return
        if _TAG in metadata:
            return  # tagged where the loss was computed
        tag, passes = _Tag(), _Passes()
        metadata[_TAG] = tag

        def count(grad_outputs, passes=passes):
            passes.passes += 1

        root.register_prehook(count)
        call = tracer.record(LossGraph, name, frame, graph=True)
        graphs = _state(tracer).graphs.setdefault((call.file, call.line), deque(maxlen=_KEPT_PER_LINE))
        if len(graphs) >= 2:
            reference, earlier = graphs[-2]
            call.earlier, call.earlier_alive, call.earlier_passes = earlier, reference() is not None, earlier.passes
            call.alive_graphs = sum(r() is not None for r, _ in list(graphs)[:-1])
        graphs.append((weakref.ref(tag), passes))
