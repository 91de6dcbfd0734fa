"""A tracer that records watched PyTorch and scikit-learn calls made by the traced program itself.

`with Tracer(namespaces=[module.__dict__]) as tracer: run()` patches the watched tensor methods
and functions, `Optimizer.step`, `Tensor.backward`, scikit-learn `fit*`/`transform`-like methods,
`train_test_split` and `DataLoader.__init__` for the duration of the block, and restores every
one of them afterwards. Patching (rather than a TorchFunctionMode) leaves the kernels that run
unchanged, so allocations and layouts are the program's own.

Only calls whose caller is outside torch, scikit-learn and this package are recorded: a
`reshape` inside `nn.Linear` is not the user's. Each record (`Call`) carries the caller's file,
line and column (the start of the call expression, from the code object's positions table),
which is how observations join with static findings. The measurements taken at the call are the
facts the oracles need: storage identity and bytes, allocator deltas on CUDA, the exception
raised, gradient norms at `step()`, copies of the data a scikit-learn estimator was fitted on.

torch and scikit-learn are patched only if the traced program has imported them.
"""

from __future__ import annotations

import copy
import functools
import inspect
import os
import re
import sys
import time
import weakref
from dataclasses import dataclass
from typing import Any, Callable

from torchlint.rules.oracles.observations import (
    EstimatorCall, Followup, InplaceWrite, LoaderCreated, Observation, OptimizerStep, RepeatCall, ReshapeCall,
    Split, ViewCall,
)

_ACTIVE: Tracer | None = None

_TENSOR_VIEWLIKE = {"repeat": "repeat", "reshape": "reshape", "view": "view", "expand": "expand",
                    "expand_as": "expand"}
_INPLACE_DUNDERS = ("__setitem__", "__iadd__", "__isub__", "__imul__", "__itruediv__", "__ifloordiv__",
                    "__imod__", "__ipow__", "__iand__", "__ior__", "__ixor__", "__ilshift__", "__irshift__")
# Trailing-underscore methods that do not write tensor data.
_NOT_DATA_WRITES = frozenset({"requires_grad_", "share_memory_", "set_", "resize_", "resize_as_",
                              "record_stream", "retain_grad_", "rename_", "refine_names_", "align_to_",
                              "as_strided_", "squeeze_", "unsqueeze_", "transpose_", "t_", "swapaxes_",
                              "swapdims_", "detach_", "_coalesced_"})
_INPLACE_NAME = re.compile(r"^[a-z][a-z0-9_]*[a-z0-9]_$")
SKLEARN_FIT_METHODS = ("fit", "fit_transform", "partial_fit")
SKLEARN_APPLY_METHODS = ("transform", "predict", "predict_proba", "inverse_transform", "score",
                         "decision_function", "fit_predict")


@dataclass
class _OptimizerState:
    stepped: bool = False  # a step ran and no backward has run since
    carried_norm: float = 0.0  # gradient norm found at the first backward after the last step
    fresh_norm: float = 0.0  # norm of what the most recent backward added


class Tracer:
    """Record watched calls made from the traced program; restore every patch on exit."""

    def __init__(self, namespaces: tuple[dict, ...] | list[dict] = (),
                 is_user_file: Callable[[str], bool] | None = None) -> None:
        self.calls: list[Observation] = []
        self.expands: list[tuple[Any, Any]] = []  # (source, expanded result) made by the program
        self.splits: list[Split] = []  # train_test_split calls and cross-validation folds
        self.repeats: list[RepeatCall] = []  # the repeat calls, whose results later writes may touch
        self.test: str | None = None  # the pytest node id now running (the pytest plugin sets it)
        self.recorded = 0  # observations made so far (`calls` may have been settled and emptied)
        # Called with the tracer when `len(calls)` reaches `settle_at`: a long run judges and drops
        # what it no longer needs there, so memory stays bounded (`torchlint.verify.session`).
        self.settle_at: int | None = None
        self.on_full: Callable[[Tracer], None] | None = None
        self.namespaces = list(namespaces)
        self._is_user_file = is_user_file or _outside_libraries
        self._patches: list[tuple[Any, str, Any, bool]] = []  # (owner, name, original, owned)
        self._wrappers: dict[int, Any] = {}  # id(original) -> wrapper, for namespace rebinding
        self._optimizers: dict[int, tuple[Any, _OptimizerState]] = {}
        self._busy = 0
        self.overhead_seconds = 0.0  # time in the tracer's wrappers, minus the calls they wrap
        self.late_imports = False  # patch what the program imports after the tracer started
        self._torch_patched = False

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> Tracer:
        global _ACTIVE
        if _ACTIVE is not None:
            raise RuntimeError("a Tracer is already active")
        try:
            self._patch_loaded()
            self._rebind_namespaces(to_wrapper=True)
            if self.late_imports:
                self._hook_imports()
        except BaseException:
            self.__exit__(None, None, None)  # never leave half the patches behind
            raise
        _ACTIVE = self
        return self

    def __exit__(self, *exc_info) -> None:
        global _ACTIVE
        _ACTIVE = None
        if self._torch_patched:
            from torchlint.verify.watch_accumulation import finish

            finish(self)
        self._rebind_namespaces(to_wrapper=False)
        for owner, name, original, owned in reversed(self._patches):
            if owned:
                setattr(owner, name, original)
            else:
                delattr(owner, name)
        self._patches.clear()
        self._wrappers.clear()

    def quiet(self):
        """A context in which the tracer's own measurements are not recorded."""
        return _Quiet(self)

    def _patch_loaded(self) -> None:
        if "torch" in sys.modules and not self._torch_patched:
            self._torch_patched = True
            self._patch_torch()
        if "sklearn.base" in sys.modules:
            self._patch_sklearn()  # again after each new import: patching is idempotent

    def _hook_imports(self) -> None:
        # Patch torch and scikit-learn classes as the program imports them, instead of importing
        # every library the project mentions before it starts (scikit-learn alone takes seconds).
        import builtins

        original = builtins.__import__
        depth = [0]
        seen = [len(sys.modules)]

        def hooked(name, globals=None, locals=None, fromlist=(), level=0):
            depth[0] += 1
            try:
                return original(name, globals, locals, fromlist, level)
            finally:
                depth[0] -= 1
                if depth[0] == 0 and _ACTIVE is self and len(sys.modules) != seen[0]:
                    seen[0] = len(sys.modules)
                    started = _clock()
                    with self.quiet():
                        self._patch_loaded()
                    self.overhead_seconds += _clock() - started

        builtins.__import__ = hooked
        self._patches.append((builtins, "__import__", original, True))

    # -- patching --------------------------------------------------------------------------------

    def _patch(self, owner: Any, name: str, handler: Callable, *, walk_out: bool = False,
               kind: str = "") -> None:
        owned = name in vars(owner)
        original = vars(owner)[name] if owned else getattr(owner, name)
        if isinstance(original, (staticmethod, classmethod)) or getattr(original, "__torchlint_wrapper__", False):
            return
        wrapper = _make_wrapper(original, handler, name, kind, walk_out)
        setattr(owner, name, wrapper)
        self._patches.append((owner, name, original, owned))
        self._wrappers[id(original)] = (original, wrapper)

    def _patch_torch(self) -> None:
        import torch

        tensor = torch.Tensor
        for name, kind in _TENSOR_VIEWLIKE.items():
            handler = _expand_handler if kind == "expand" else _VIEW_HANDLERS[kind]
            self._patch(tensor, name, handler, kind=kind)
        for name in dir(tensor):
            if (_INPLACE_NAME.match(name) and name not in _NOT_DATA_WRITES) or name in _INPLACE_DUNDERS:
                if callable(getattr(tensor, name, None)):
                    self._patch(tensor, name, _inplace_handler, kind="inplace")
        self._patch(tensor, "backward", _backward_handler, kind="backward")
        self._patch(tensor, "flatten", _flatten_handler, kind="flatten")
        self._patch(torch, "reshape", _VIEW_HANDLERS["reshape"], kind="reshape")
        self._patch(torch, "flatten", _flatten_handler, kind="flatten")
        self._patch(torch, "broadcast_to", _expand_handler, kind="expand")
        optimizer = torch.optim.Optimizer
        self._patch(optimizer, "__init__", _optimizer_init_handler, kind="optimizer")
        for cls in _subclasses(optimizer):
            if "step" in vars(cls):
                self._prehook_step(cls)
                self._patch(cls, "step", _step_handler, walk_out=True, kind="step")
                vars(cls)["step"].hooked = True  # keep Optimizer.__init__ from wrapping ours again
        loader = torch.utils.data.DataLoader
        self._patch(loader, "__init__", _loader_handler, kind="loader")
        from torchlint.verify.watch_nn import patch_nn

        patch_nn(self)  # softmax functions, module construction, factories and device moves
        from torchlint.verify.watch_accumulation import patch_accumulation

        patch_accumulation(self)  # concatenation chains and loss graphs
        from torchlint.verify.watch_modes import patch_modes

        patch_modes(self)  # train()/eval() and module forwards
        from torchlint.verify.watch_training import patch_training

        patch_training(self)  # scheduler steps and distributed sampler epochs

    def _patch_sklearn(self) -> None:
        import sklearn.base
        import sklearn.model_selection

        classes = {base for cls in _subclasses(sklearn.base.BaseEstimator) for base in cls.__mro__}
        classes.discard(object)
        # Sorted for a stable patch order; mixins such as TransformerMixin hold `fit_transform`.
        for cls in sorted(classes, key=lambda c: (c.__module__, c.__qualname__)):
            for name in SKLEARN_FIT_METHODS + SKLEARN_APPLY_METHODS:
                value = vars(cls).get(name)
                if inspect.isfunction(value):
                    self._patch(cls, name, _sklearn_handler, kind="fit")
                elif value is not None and inspect.isfunction(getattr(value, "fn", None)):
                    # sklearn's `available_if` descriptor: wrap the function it hands out.
                    self._patch(value, "fn", _sklearn_handler, kind="fit")
        split_module = sys.modules.get("sklearn.model_selection._split")
        splitters = set()
        for base in ("BaseCrossValidator", "BaseShuffleSplit"):
            for cls in _subclasses(getattr(split_module, base, object)) if split_module else ():
                splitters.update(cls.__mro__)  # KFold's first `split` is a mixin's
        for cls in sorted(splitters - {object}, key=lambda c: (c.__module__, c.__qualname__)):
            if inspect.isfunction(vars(cls).get("split")):
                self._patch(cls, "split", _folds_handler, kind="split")
        for owner in (sklearn.model_selection, split_module):
            if owner is not None and "train_test_split" in vars(owner):
                self._patch(owner, "train_test_split", _split_handler, kind="split")

    def _prehook_step(self, cls) -> None:
        # Do what Optimizer.__init__ would do to `step` first, so that our wrapper sits outside it.
        step = vars(cls)["step"]
        if not getattr(step, "hooked", False):
            import torch

            self._patches.append((cls, "step", step, True))
            cls.step = torch.optim.Optimizer.profile_hook_step(step)
            cls.step.hooked = True

    def _rebind_namespaces(self, *, to_wrapper: bool) -> None:
        # `from sklearn.model_selection import train_test_split` binds the function itself.
        for namespace in self.namespaces:
            for key, value in list(namespace.items()):
                if to_wrapper:
                    pair = self._wrappers.get(id(value))
                    if pair is not None and pair[0] is value:
                        namespace[key] = pair[1]
                elif getattr(value, "__torchlint_wrapper__", False):
                    namespace[key] = value.__wrapped__

    # -- helpers for handlers --------------------------------------------------------------------

    def record(self, kind: type[Observation], name: str, frame, **fields) -> Observation:
        file, line, column = frame_position(frame)
        call = kind(name, file, line, column, index=self.recorded, callers=_callers(frame, file), test=self.test,
                    **fields)
        self.recorded += 1
        self.calls.append(call)
        if self.settle_at is not None and self.on_full is not None and len(self.calls) >= self.settle_at:
            with self.quiet():
                self.on_full(self)
        return call

    def optimizer_state(self, optimizer) -> _OptimizerState:
        # Weak references: an optimizer the program dropped (a finished test) is no longer watched
        # at every `backward()`, and its model can be freed.
        entry = self._optimizers.get(id(optimizer))
        if entry is None or entry[0]() is not optimizer:
            try:
                reference = weakref.ref(optimizer)
            except TypeError:
                reference = lambda: optimizer  # noqa: E731 - an optimizer without weakref support
            entry = (reference, _OptimizerState())
            self._optimizers[id(optimizer)] = entry
        return entry[1]

    def optimizers(self):
        live = []
        for key, (reference, state) in list(self._optimizers.items()):
            optimizer = reference()
            if optimizer is None:
                del self._optimizers[key]
            else:
                live.append((optimizer, state))
        return live

    def is_user_frame(self, frame) -> bool:
        return frame is not None and self._is_user_file(frame.f_code.co_filename)


class _Quiet:
    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer

    def __enter__(self):
        self.tracer._busy += 1

    def __exit__(self, *exc_info):
        self.tracer._busy -= 1


# code object -> its positions table (one entry per 2-byte instruction); weak, for long traces
_POSITIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def frame_position(frame) -> tuple[str, int, int]:
    """File, line and 1-based column of the call expression `frame` is executing."""
    code = frame.f_code
    line, column = frame.f_lineno, 1
    try:
        positions = _POSITIONS.get(code)
        if positions is None:
            positions = _POSITIONS[code] = list(code.co_positions())
        start_line, _, start_col, _ = positions[frame.f_lasti // 2]
        if start_line is not None:
            line = start_line
        if start_col is not None:
            column = start_col + 1
    except (AttributeError, IndexError):  # Python < 3.11: no positions table
        pass
    return code.co_filename, line, column


_LIBRARY_DIRS: tuple[str, ...] | None = None
_clock = time.perf_counter
_ACTIVE_TIMES = [0.0]  # seconds spent inside the patched originals (the program's own work)


def _callers(frame, file: str) -> tuple[int, ...]:
    # A write inside a helper of the fixture is claimed where the fixture calls the helper.
    lines = []
    caller = frame.f_back
    while caller is not None and caller.f_code.co_filename == file and len(lines) < 8:
        lines.append(frame_position(caller)[1])
        caller = caller.f_back
    return tuple(lines)


def _outside_libraries(filename: str) -> bool:
    global _LIBRARY_DIRS
    if _LIBRARY_DIRS is None:
        roots = [os.path.dirname(os.path.abspath(__file__))]
        for name in ("torch", "sklearn", "numpy", "pandas", "scipy", "joblib"):
            module = sys.modules.get(name)
            if module is not None and getattr(module, "__file__", None):
                roots.append(os.path.dirname(os.path.abspath(module.__file__)))
        _LIBRARY_DIRS = tuple(root + os.sep for root in roots)
    return not filename.startswith(_LIBRARY_DIRS) and not filename.startswith("<frozen")


def _make_wrapper(original, handler, name: str, kind: str, walk_out: bool):
    def timed(*args, **kwargs):
        # The patched call itself: its time is the program's, not the tracer's.
        started = _clock()
        try:
            return original(*args, **kwargs)
        finally:
            _ACTIVE_TIMES[0] += _clock() - started

    def wrapper(*args, **kwargs):
        tracer = _ACTIVE
        if tracer is None or tracer._busy:
            return original(*args, **kwargs)
        started, inner = _clock(), _ACTIVE_TIMES[0]
        try:
            frame = sys._getframe(1)
            if walk_out:
                # Optimizer.step is reached through torch's own wrappers (profiling, LR schedulers);
                # F.cross_entropy inside CrossEntropyLoss.forward also through our own `_Loss.__call__`.
                while frame is not None and not tracer.is_user_frame(frame) and (_in_torch(frame) or _in_tracer(frame)):
                    frame = frame.f_back
            if kind != "optimizer" and not tracer.is_user_frame(frame):
                return timed(*args, **kwargs)
            return handler(tracer, frame, timed, name, args, kwargs)
        finally:
            tracer.overhead_seconds += (_clock() - started) - (_ACTIVE_TIMES[0] - inner)

    try:
        functools.update_wrapper(wrapper, original)
    except (AttributeError, TypeError):
        wrapper.__wrapped__ = original
    wrapper.__torchlint_wrapper__ = True
    return wrapper


def _in_torch(frame) -> bool:
    torch = sys.modules.get("torch")
    root = os.path.dirname(os.path.abspath(torch.__file__)) + os.sep if torch else None
    return root is not None and frame.f_code.co_filename.startswith(root)


def _in_tracer(frame) -> bool:
    return frame.f_code.co_filename.startswith(os.path.dirname(os.path.abspath(__file__)) + os.sep)


def _subclasses(cls) -> list:
    seen, stack = [], [cls]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.append(current)
        stack.extend(current.__subclasses__())
    return seen




# -- tensors -------------------------------------------------------------------------------------

def _storage(tensor) -> tuple[int, int]:
    storage = tensor.untyped_storage()
    return storage.data_ptr(), storage.nbytes()


def _allocated(tensor) -> int | None:
    if getattr(tensor, "is_cuda", False):
        import torch

        return torch.cuda.memory_allocated(tensor.device)
    return None


def _repeat_sizes(args, kwargs) -> tuple[int, ...]:
    sizes = args[1:] or (kwargs.get("repeats") or kwargs.get("sizes") or (),)
    if len(sizes) == 1 and not isinstance(sizes[0], int):
        sizes = tuple(sizes[0])
    return tuple(int(size) for size in sizes)


def _repeat_handler(tracer: Tracer, frame, original, name, args, kwargs):
    source = args[0]
    before = _allocated(source)
    try:
        result = original(*args, **kwargs)
    except Exception as exc:
        tracer.record(RepeatCall, name, frame, source=source).error = exc
        raise
    after = _allocated(source)
    with tracer.quiet():
        measured = _measure_repeat(source, result, before, after)
    # `version` is bumped by every later in-place write into the result, `out=` included.
    tracer.repeats.append(tracer.record(RepeatCall, name, frame, source=source, result=result,
                                        sizes=_repeat_sizes(args, kwargs), version=result._version, **measured))
    return result


def _measure_repeat(source, result, before, after) -> dict:
    import torch

    source_ptr, _ = _storage(source)
    result_ptr, result_bytes = _storage(result)
    measured = {"new_storage": result_ptr != source_ptr,
                "allocated_bytes": result_bytes if after is None else after - before,
                "source_bytes": source.numel() * source.element_size()}
    try:
        start = _allocated(source)
        expanded = source.expand(result.shape)
        end = _allocated(source)
        shares = _storage(expanded)[0] == source_ptr
        measured["alternative_bytes"] = (0 if shares else expanded.numel() * expanded.element_size()) \
            if end is None else end - start
        measured["alternative_equal"] = bool(torch.equal(expanded, result))
    except RuntimeError as exc:
        measured["alternative_bytes"] = None
        measured["alternative_equal"] = False
        measured["alternative_error"] = str(exc).splitlines()[0]
    return measured


def _note_followup(tracer: Tracer, frame, name, args, kwargs) -> None:
    # What the program does next with a repeat's result decides whether expand could replace it.
    for call in tracer.repeats:
        if call.result is args[0]:
            call.followups.append(Followup(name, args[1:], kwargs, frame_position(frame)[1]))


def _flatten_handler(tracer: Tracer, frame, original, name, args, kwargs):
    # flatten has reshape's semantics (a view when it can, else a copy): recorded as one (TL102)
    return _reshape_handler(tracer, frame, original, name, args, kwargs)


def _reshape_handler(tracer: Tracer, frame, original, name, args, kwargs):
    source = args[0]
    _note_followup(tracer, frame, name, args, kwargs)
    before = _allocated(source)
    try:
        result = original(*args, **kwargs)
    except Exception as exc:
        tracer.record(ReshapeCall, name, frame).error = exc
        raise
    after = _allocated(source)
    with tracer.quiet():
        copied = _storage(result)[0] != _storage(source)[0] and result.numel() > 0
        copied_bytes = result.numel() * result.element_size() if copied else 0
        tracer.record(ReshapeCall, name, frame, copied=copied,
                      copied_bytes=copied_bytes if after is None else after - before,
                      source_shape=tuple(source.shape), source_stride=tuple(source.stride()),
                      contiguous=source.is_contiguous())
    return result


def _view_handler(tracer: Tracer, frame, original, name, args, kwargs):
    source = args[0]
    _note_followup(tracer, frame, name, args, kwargs)
    try:
        result = original(*args, **kwargs)
    except Exception as exc:
        tracer.record(ViewCall, name, frame, source_shape=tuple(source.shape),
                      source_stride=tuple(source.stride())).error = exc
        raise
    tracer.record(ViewCall, name, frame, source_shape=tuple(source.shape), source_stride=tuple(source.stride()))
    return result


_VIEW_HANDLERS = {"repeat": _repeat_handler, "reshape": _reshape_handler, "view": _view_handler}


def _expand_handler(tracer: Tracer, frame, original, name, args, kwargs):
    result = original(*args, **kwargs)
    if _overlaps_itself(result):  # only an expand that really broadcast shares memory across rows
        tracer.expands.append((args[0], result))
    return result


def _overlaps_itself(tensor) -> bool:
    return any(stride == 0 and size > 1 for size, stride in zip(tensor.shape, tensor.stride()))


def _inplace_handler(tracer: Tracer, frame, original, name, args, kwargs):
    import torch

    target = args[0]
    if not isinstance(target, torch.Tensor):
        return original(*args, **kwargs)
    with tracer.quiet():
        ptr = _storage(target)[0]
        sources = [source for source, expanded in tracer.expands if _storage(expanded)[0] == ptr]
        overlapping = _overlaps_itself(target)
        if overlapping and not sources and target._base is not None:
            sources = [target._base]
        before = [source.detach().clone() for source in sources]
        for call in tracer.repeats:
            if _storage(call.result)[0] == ptr:
                call.written_at = frame_position(frame)[1]
    call = tracer.record(InplaceWrite, name, frame, expand_related=bool(sources) or overlapping,
                         overlapping=overlapping, shape=tuple(target.shape), stride=tuple(target.stride()))
    try:
        result = original(*args, **kwargs)
    except Exception as exc:
        call.error = exc
        raise
    with tracer.quiet():
        changed = [not torch.equal(source, old) for source, old in zip(sources, before)]
        call.source_changed = any(changed)
    return result


def _backward_handler(tracer: Tracer, frame, original, name, args, kwargs):
    from torchlint.verify.watch_accumulation import note_backward

    note_backward(tracer, frame, args[0])
    with tracer.quiet():
        watched = []
        for optimizer, state in tracer.optimizers():
            params = _params(optimizer)
            grads = [p.grad for p in params]
            empty = all(g is None for g in grads)
            if state.stepped:
                state.carried_norm = 0.0 if empty else _norm(grads)
                state.stepped = False
                empty = empty or state.carried_norm == 0.0
            # Copies only when gradients are already there (accumulation, or the TL201 bug): a loop
            # that resets them pays one norm per backward, not a copy of every gradient.
            watched.append((state, params, None if empty else [None if g is None else g.detach().clone()
                                                                for g in grads]))
    result = original(*args, **kwargs)
    with tracer.quiet():
        for state, params, before in watched:
            if before is None:
                state.fresh_norm = _norm([p.grad for p in params])
                continue
            deltas = [p.grad if old is None else (p.grad - old if p.grad is not None else None)
                      for p, old in zip(params, before)]
            state.fresh_norm = _norm(deltas)
    return result


def _params(optimizer) -> list:
    return [p for group in optimizer.param_groups for p in group["params"]]


def _norm(tensors) -> float:
    import torch

    total = 0.0
    for tensor in tensors:
        if tensor is not None:
            total += float(torch.linalg.vector_norm(tensor.detach())) ** 2
    return total ** 0.5


def _optimizer_init_handler(tracer: Tracer, frame, original, name, args, kwargs):
    result = original(*args, **kwargs)
    tracer.optimizer_state(args[0])
    return result


def _step_handler(tracer: Tracer, frame, original, name, args, kwargs):
    optimizer = args[0]
    state = tracer.optimizer_state(optimizer)
    with tracer.quiet():
        params = _params(optimizer)
        grads = [p.grad for p in params]
        call = tracer.record(OptimizerStep, name, frame, params=len(params),
                             none_grads=sum(g is None for g in grads),
                             zero_grads=sum(g is not None and not bool(g.detach().ne(0).any()) for g in grads),
                             grad_norm=_norm(grads), fresh_norm=state.fresh_norm, carried_norm=state.carried_norm)
    try:
        result = original(*args, **kwargs)
    except Exception as exc:
        call.error = exc
        raise
    state.stepped, state.carried_norm, state.fresh_norm = True, 0.0, 0.0
    return result


# -- data ----------------------------------------------------------------------------------------

def _loader_handler(tracer: Tracer, frame, original, name, args, kwargs):
    dataset = args[1] if len(args) > 1 else kwargs.get("dataset")
    tracer.record(LoaderCreated, "DataLoader", frame, dataset=dataset)
    return original(*args, **kwargs)


def _sklearn_handler(tracer: Tracer, frame, original, name, args, kwargs):
    estimator = args[0]
    X = args[1] if len(args) > 1 else kwargs.get("X", kwargs.get("raw_documents"))
    y = args[2] if len(args) > 2 else kwargs.get("y")
    fits = name in SKLEARN_FIT_METHODS
    with tracer.quiet():
        call = tracer.record(EstimatorCall, name, frame, estimator=estimator, X=X, y=y, fits=fits,
                             X_copy=_copy_data(X) if fits else None, y_copy=_copy_data(y) if fits else None,
                             caller=frame, caller_locals=dict(frame.f_locals))
    try:
        result = original(*args, **kwargs)
    except Exception as exc:
        call.error = exc
        raise
    call.output = result if name in ("fit_transform", "transform") else None
    if fits:
        with tracer.quiet():
            try:
                call.fitted = copy.deepcopy(estimator)
            except Exception:  # an estimator that cannot be copied: compare the live one
                call.fitted = estimator
    return result


def _copy_data(value):
    if value is None:
        return None
    try:
        return value.copy()
    except AttributeError:
        return copy.copy(value)


def _split_handler(tracer: Tracer, frame, original, name, args, kwargs):
    import numpy as np
    from sklearn.utils.validation import _num_samples

    try:
        rows = _num_samples(args[0])
        outputs = original(*args, np.arange(rows), **kwargs)
    except Exception:
        return original(*args, **kwargs)
    result, train_rows, test_rows = list(outputs[:-2]), outputs[-2], outputs[-1]
    tracer.splits.append(Split(list(args), result, train_rows, test_rows, rows, tracer.recorded,
                               frame_position(frame)[1]))
    return result


def _folds_handler(tracer: Tracer, frame, original, name, args, kwargs):
    """`KFold(...).split(X)` and friends: record each fold's rows as the user iterates."""
    X = args[1] if len(args) > 1 else kwargs.get("X")
    line = frame_position(frame)[1]

    def folds():
        for train_rows, test_rows in original(*args, **kwargs):
            with tracer.quiet():
                from sklearn.utils import _safe_indexing

                tracer.splits.append(Split([X], [_safe_indexing(X, train_rows), _safe_indexing(X, test_rows)],
                                           train_rows, test_rows, len(train_rows) + len(test_rows),
                                           tracer.recorded, line))
            yield train_rows, test_rows

    return folds()
