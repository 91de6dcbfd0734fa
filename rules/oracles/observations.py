"""What `torchlint verify`'s tracer observes, as typed records: one dataclass per kind of watched call.

The tracer (`torchlint.verify.tracer`) builds these; each rule's oracle (a module beside this one)
says which types it watches and judges them into a `Verdict`. Nothing here imports torch: the
fields that hold tensors, arrays or estimators are typed `Any`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Observation:
    """One watched call made by the traced program (or one statement that raised)."""

    name: str  # the method or function called
    file: str
    line: int
    column: int  # 1-based, the start of the call expression
    error: BaseException | None = None
    index: int = 0  # order among the run's observations
    callers: tuple[int, ...] = ()  # lines of the enclosing calls in the same file, innermost first
    test: str | None = None  # the pytest node id running when the call was made


@dataclass
class Followup:
    """A later call on a repeat's result (`view`, `reshape`, `flatten`): replayed on the expand."""

    name: str
    args: tuple
    kwargs: dict
    line: int


@dataclass
class RepeatCall(Observation):
    source: Any = None
    result: Any = None
    sizes: tuple[int, ...] = ()
    new_storage: bool = True
    allocated_bytes: int = 0
    source_bytes: int = 0
    alternative_bytes: int | None = None  # what `expand` to the same shape allocated
    alternative_equal: bool = False
    alternative_error: str | None = None
    version: int = 0  # the result's `_version` right after the call
    followups: list[Followup] = field(default_factory=list)
    written_at: int | None = None  # line of a later in-place write into the result


@dataclass
class ReshapeCall(Observation):
    copied: bool = False
    copied_bytes: int = 0
    source_shape: tuple[int, ...] = ()
    source_stride: tuple[int, ...] = ()
    contiguous: bool = True


@dataclass
class ViewCall(Observation):
    source_shape: tuple[int, ...] = ()
    source_stride: tuple[int, ...] = ()


@dataclass
class InplaceWrite(Observation):
    expand_related: bool = False  # the target shares storage with an expanded tensor
    overlapping: bool = False  # the target itself has a stride-0 dimension of size > 1
    shape: tuple[int, ...] = ()
    stride: tuple[int, ...] = ()
    source_changed: bool = False  # the expand's source changed through the write


@dataclass
class OptimizerStep(Observation):
    params: int = 0
    none_grads: int = 0
    zero_grads: int = 0
    grad_norm: float = 0.0
    fresh_norm: float = 0.0  # norm of what the latest backward added
    carried_norm: float = 0.0  # norm left over from before the previous step


@dataclass
class EstimatorCall(Observation):
    """A scikit-learn `fit`/`fit_transform`/`transform`/`predict`... call."""

    estimator: Any = None
    X: Any = None
    y: Any = None
    fits: bool = False
    X_copy: Any = None  # the data as it was at the fit (the program may change it later)
    y_copy: Any = None
    caller: Any = None  # the calling frame
    caller_locals: dict = field(default_factory=dict)
    output: Any = None
    fitted: Any = None  # a copy of the estimator right after the fit


@dataclass
class LoaderCreated(Observation):
    dataset: Any = None


@dataclass
class SoftmaxCall(Observation):
    """`F.softmax`/`F.log_softmax`/`F.softmin` called by the program, with the warnings it raised."""

    warnings: tuple[str, ...] = ()


@dataclass
class ModuleCreated(Observation):
    """An `nn.Module` constructed by the program (recorded where the user's code asked for it)."""

    module: Any = None
    owner: Any = None  # the `nn.Module` whose method was running when it was built, if any


@dataclass
class DeviceMove(Observation):
    """`Tensor.to`/`Tensor.cuda` on a tensor; `factory` names the torch factory that made the source."""

    source: Any = None
    result: Any = None
    factory: str | None = None
    factory_device: bool = False  # the factory call was given `device=`
    factory_generator: bool = False  # the factory call was given `generator=` (it decides the device)


@dataclass
class LossCall(Observation):
    """`F.cross_entropy`/`F.binary_cross_entropy_with_logits` (also as made by the loss modules)."""

    input: Any = None  # detached copies, as they were at the call
    target: Any = None
    kwargs: dict = field(default_factory=dict)


@dataclass
class ModeSwitch(Observation):
    """`Module.train()`/`Module.eval()` called by the program, and the mode the module is left in."""

    module: Any = None  # a weak reference to the module
    training: bool = True


@dataclass
class ModuleForward(Observation):
    """A forward of a module called by the program (not the calls modules make to their children)."""

    module: Any = None  # a weak reference to the module
    training: bool = True  # the module's own mode at the call
    eval_modules: int = 0  # the module and its submodules in evaluation mode at the call
    grad_enabled: bool = True
    requires_grad: bool = False  # some tensor of the output requires grad (a graph was recorded)
    grad_fn: str = ""  # the output's grad_fn, by type name
    backpropagated: bool = False  # set later: a backward() or autograd.grad reached the output


@dataclass
class RaisedError(Observation):
    """A statement of the program raised outside any watched call (`out=`, `inplace=True`...)."""


@dataclass
class Split:
    """A `train_test_split` call or one fold of a cross-validator, with the rows on each side."""

    arrays: list
    outputs: list
    train_rows: Any
    test_rows: Any
    rows: int
    index: int  # observations recorded before it
    line: int


@dataclass
class Verdict:
    """Whether a rule's claim holds for one observation, what was measured, and the evidence."""

    holds: bool
    observed: str
    evidence: dict = field(default_factory=dict)  # JSON-ready figures: bytes, norms, shapes


class Run(Protocol):
    """What an oracle may ask of the traced run besides the observation itself."""

    calls: list[Observation]
    splits: list[Split]

    def quiet(self): ...  # a context in which the program's calls are not recorded


@dataclass
class CatCall(Observation):
    """`torch.cat`/`np.concatenate`-like call; `chain` counts the calls of this line that took the
    previous one's result as an input (1: none did)."""

    library: str = "torch"
    output_bytes: int = 0
    chain: int = 1
    chain_bytes: int = 0  # bytes written by every call of the chain so far, this one included
    growing: bool = True  # every call of the chain wrote more bytes than the one before
    read_between: bool | None = None  # an intermediate result was used by another operation (None: not observed)


@dataclass
class LossGraph(Observation):
    """A loss computed (by a loss module or function) or back-propagated, with the fate of the graph
    made at the same line two calls earlier."""

    graph: bool = False  # the loss has an autograd graph
    earlier: Any = None  # that earlier graph's backward-pass counter (`.passes`), None: no such call
    earlier_alive: bool = False  # whether that graph was still alive at this call
    earlier_passes: int = 0  # backward passes through it counted at this call
    alive_graphs: int = 0  # graphs made earlier at this line still alive at this call


@dataclass
class SchedulerStep(Observation):
    """An `LRScheduler.step()` the program called, with what PyTorch said and the learning rates."""

    scheduler: str = ""  # the scheduler's class name
    first: bool = False  # the scheduler's first step since it was built
    optimizer_stepped: bool = False  # its optimizer had stepped before this call
    explicit: bool = False  # given arguments (an explicit epoch, a metric)
    warnings: tuple[str, ...] = ()
    lr_before: tuple[float, ...] = ()
    lr_after: tuple[float, ...] = ()


@dataclass
class SamplerEpoch(Observation):
    """One pass of a `DistributedSampler` (one epoch of its loader): the order it handed out."""

    sampler: int = 0  # a serial number of the sampler, to compare the epochs of one sampler
    epoch: int = 0
    shuffle: bool = True
    order: tuple[int, ...] = ()
