from __future__ import annotations

from torchlint._lazy import lazy_module
from torchlint.diagnostics import Applicability, Severity
from torchlint.rule import FixSpec, Invalid, NodeNote, Rule

cst = lazy_module("libcst")

FACTORIES = frozenset(f"torch.{name}" for name in (
    "zeros", "ones", "empty", "full", "rand", "randn", "randint", "arange", "eye",
))
DEVICE_PREFIXES = ("cpu", "cuda", "mps", "xpu", "meta", "hpu", "xla", "npu", "privateuseone")
# `.to(...)` keywords that the factory call can take over unchanged or that only concern the copy.
MOVE_ONLY_KEYWORDS = frozenset({"non_blocking"})


class CreateThenMove(Rule):
    """## What it does
    Reports a tensor factory (`torch.zeros`, `ones`, `empty`, `full`, `rand`, `randn`, `randint`,
    `arange`, `eye`) whose result is immediately moved with `.to(device)` or `.cuda()`:
    `torch.zeros(n, m).to(device)`.

    `torch.tensor(data).to(device)` is not reported: `torch.tensor` builds its data in CPU memory
    and copies it to the device even when given `device=`, so nothing would be saved.

    Silent when the `.to` argument may be a dtype or a tensor (`.to(x)`, `.to(torch.float16)`,
    `.to(dtype=...)`), when the factory already has `device=` or takes `*args`/`**kwargs`, when a
    random factory is given `generator=` (a CPU generator must draw on the CPU: `device="cuda"`
    with it raises), and
    for data that comes from NumPy (`torch.from_numpy(a).to(device)`: the array lives on the CPU,
    so the copy cannot be avoided). Only the immediate chain is reported: a tensor that is
    filled on the CPU first and moved later is not.

    ## Why is this bad?
    The factory allocates and fills the tensor in CPU memory, then `.to` allocates it again on
    the device and copies it over: twice the allocations, a host-to-device transfer, and on CUDA a
    synchronisation point, often inside the training step. Passing `device=` creates the tensor on
    the device directly.

    ## Example
    ```python
    import torch

    mask = torch.zeros(batch, length).to(device)
    ```

    ## Use instead
    ```python
    import torch

    mask = torch.zeros(batch, length, device=device)
    ```

    ## Fix safety
    The fix moves the argument into the factory as `device=` and removes the `.to(...)`/`.cuda()`.
    It is safe when the argument is certainly a device (a device string such as `"cuda"`, a
    `torch.device(...)`, `<tensor>.device`, or `.cuda()`), and unsafe when only the name says so
    (`.to(device)`, `.to(DEVICE)`): such a name could still hold a dtype. `.to(device, dtype)`
    gets no fix (the dtype would move into the factory too). `non_blocking=` is
    dropped: nothing is copied any more. Random factories draw from the device's generator, so
    `rand`/`randn`/`randint` values change with a fixed seed; that fix is unsafe too.

    ## Runtime verification
    The runtime mode records which tensors the factories made and whether `device=` was given, and
    every `.to(...)`/`.cuda()` applied to one of them: the claim holds when the tensor was made on
    the CPU and the move put it on another device (a CUDA device when there is one; fixtures use
    `meta` on CPU-only machines). A move that stays on the CPU (a dtype change, `.to(tensor)` on the
    same device) must not.

    ## References
    - [Tensor creation ops take `device=`](https://pytorch.org/docs/stable/torch.html#creation-ops)
    - [PyTorch performance tuning guide: create tensors directly on the target device](https://pytorch.org/tutorials/recipes/recipes/tuning_guide.html#create-tensors-directly-on-the-target-device)
    """

    code = "TL106"
    name = "create-then-move"
    severity = Severity.WARNING
    summary = "A tensor factory immediately followed by .to(device)/.cuda(): created on CPU, then copied"
    tokens = (".to(", ".cuda(")

    VALID = (
        "import torch\nx = torch.zeros(3, device=device)\n",
        "import torch\nx = torch.zeros(3).to(torch.float16)\n",
        "import torch\nx = torch.zeros(3).to(dtype=torch.float16)\n",
        "import torch\nx = torch.zeros(3).to(other)\n",
        "import torch\nx = torch.from_numpy(a).to(device)\n",
        "import torch\nx = torch.zeros(3, device='cpu').to(device)\n",
        "import torch\nx = torch.zeros(*shape, **options).to(device)\n",
        "import torch\nx = torch.zeros(3).to('cuda', copy=True)\n",
        "import torch\nx = torch.tensor([1, 2]).to('cuda')\n",
        "import torch\nx = torch.randn(3, generator=g).to('cuda')\n",
        "def zeros(n):\n    return n\nx = zeros(3).to('cuda')\n",
    )
    INVALID = (
        Invalid("import torch\nx = torch.zeros(3).to('cuda')  # expect: TL106\n",
                 fixed="import torch\nx = torch.zeros(3, device='cuda')  # expect: TL106\n"),
        Invalid("import torch\nx = torch.ones(2, 2).cuda()  # expect: TL106\n",
                 fixed="import torch\nx = torch.ones(2, 2, device=\"cuda\")  # expect: TL106\n"),
        Invalid("import torch\nx = torch.arange(5).to(device=torch.device('cuda', 1))  # expect: TL106\n",
                 fixed="import torch\nx = torch.arange(5, device=torch.device('cuda', 1))  # expect: TL106\n"),
        Invalid("import torch\nx = torch.eye(3).to(y.device, non_blocking=True)  # expect: TL106\n",
                 fixed="import torch\nx = torch.eye(3, device=y.device)  # expect: TL106\n"),
        Invalid("import torch\nx = torch.full((2,), 1.0).to(device)  # expect: TL106\n",
                 unsafe_fixed="import torch\nx = torch.full((2,), 1.0, device=device)  # expect: TL106\n"),
        "import torch\nx = torch.zeros(3).to(device, torch.float16)  # expect: TL106\n",
        Invalid("import torch\nx = torch.randn(4).to('cuda:0')  # expect: TL106\n",
                 unsafe_fixed="import torch\nx = torch.randn(4, device='cuda:0')  # expect: TL106\n"),
    )

    def visit_Call(self, node) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute) or func.attr.value not in ("to", "cuda"):
            return
        factory = func.value
        if not isinstance(factory, cst.Call):
            return
        qualified = self.facts.names.qualified_name(factory.func)
        if qualified not in FACTORIES or not _open_to_device(factory):
            return
        target = _target(node, func.attr.value)
        if target is None:
            return
        device, certain = target
        short = qualified.rsplit(".", 1)[1]
        device_text = device if isinstance(device, str) else self.facts.module.code_for_node(device)
        fix = None
        if certain is not None:
            safe = certain and short not in ("rand", "randn", "randint")
            fix = FixSpec(f"Pass `device={device_text}` to `torch.{short}` and drop the move",
                          Applicability.SAFE if safe else Applicability.UNSAFE, ((node, _with_device(factory, device)),))
        moved = "`.cuda()`" if func.attr.value == "cuda" else f"`.to({device_text})`"
        self.report(
            node,
            f"`torch.{short}(...)` allocates on the CPU, then {moved} copies it to the device: "
            "create it there directly",
            notes=[NodeNote(factory, f"`torch.{short}` without `device=` allocates in CPU memory here")],
            help=f"pass `device={device_text}` to `torch.{short}`",
            fix=fix,
        )


def _open_to_device(factory) -> bool:
    """The factory call has no `device=`, no `generator=` (whose device decides where random
    numbers are drawn) and no `*args`/`**kwargs` that could hold one."""
    return all(not arg.star and not (arg.keyword is not None and arg.keyword.value in ("device", "generator"))
               for arg in factory.args)


def _target(node, method: str):
    """(device expression or text, certainly a device) for the move; None when it may not be one."""
    args = node.args
    if any(arg.star for arg in args):
        return None
    keywords = {arg.keyword.value: arg.value for arg in args if arg.keyword is not None}
    positional = [arg.value for arg in args if arg.keyword is None]
    if set(keywords) - MOVE_ONLY_KEYWORDS - {"device"}:
        return None  # dtype=, copy=, memory_format=: more than a move
    if method == "cuda":
        if positional or "device" in keywords:
            chosen = positional[0] if positional else keywords["device"]
            if isinstance(chosen, cst.Integer):
                return f'"cuda:{chosen.value}"', True
            return None
        return '"cuda"', True
    if len(positional) == 2 and not keywords and _device_certainty(positional[0]) is not None:
        return positional[0], None  # `.to(device, dtype)`: reported, but the fix would change the dtype too
    if len(positional) + ("device" in keywords) != 1:
        return None
    if not positional:
        return keywords["device"], True  # `.to(device=...)`: nothing else fits there
    certainty = _device_certainty(positional[0])
    if certainty is None:
        return None
    return positional[0], certainty


def _device_certainty(expr) -> bool | None:
    """True: certainly a device; False: named like one; None: may be a dtype or a tensor."""
    if isinstance(expr, cst.SimpleString):
        text = expr.evaluated_value
        return True if isinstance(text, str) and text.split(":")[0] in DEVICE_PREFIXES else None
    if isinstance(expr, cst.Call):
        func = expr.func
        name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")
        return True if name == "device" else None
    if isinstance(expr, cst.Attribute) and expr.attr.value == "device":
        return True  # `<tensor>.device` (or `self.device`, `args.device`: named so)
    if isinstance(expr, cst.Name) and expr.value.lower() in ("device", "dev") or (
        isinstance(expr, cst.Name) and expr.value.lower().endswith("_device")
    ):
        return False
    return None


def _with_device(factory, device):
    value = cst.parse_expression(device) if isinstance(device, str) else device
    args = list(factory.args)
    last = args[-1] if args else None
    if last is not None:
        args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    args.append(cst.Arg(value=value, keyword=cst.Name("device"), equal=cst.AssignEqual(
        whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))))
    return factory.with_changes(args=args)
