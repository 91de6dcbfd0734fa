"""TL204 at run time: the loss's input was already normalised (softmax rows, or sigmoid values)."""

from __future__ import annotations

from torchlint.rules.oracles import Oracle
from torchlint.rules.oracles.observations import LossCall, Run, Verdict


def judge(call: LossCall, run: Run) -> Verdict | None:
    import torch

    x, target = call.input, call.target
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.numel() == 0 or x.device.type == "meta":
        return None
    with run.quiet(), torch.no_grad():
        if call.name == "cross_entropy":
            return _cross_entropy(x.double(), target)
        return _bce_with_logits(x.double(), target)


def _cross_entropy(x, target) -> Verdict:
    import torch
    import torch.nn.functional as F

    dim = 1 if x.dim() >= 2 else 0
    sums = x.sum(dim)
    normalised = bool((x >= -1e-6).all()) and bool(torch.allclose(sums, torch.ones_like(sums), atol=1e-4))
    if not normalised:
        return Verdict(False, "the input is not a probability distribution along the class dim (logits)",
                       {"min": float(x.min()), "row_sum": float(sums.flatten()[0])})
    evidence = {}
    if isinstance(target, torch.Tensor) and not target.is_floating_point():
        logits = x.clamp_min(1e-12).log().requires_grad_(True)  # the logits these probabilities came from
        with torch.enable_grad():
            twice = F.cross_entropy(logits.softmax(dim), target)
            (damped,) = torch.autograd.grad(twice, logits)
            once = F.cross_entropy(logits, target)
            (meant,) = torch.autograd.grad(once, logits)
        evidence = {"loss": round(float(twice), 6), "loss_of_logits": round(float(once), 6),
                    "grad_norm": round(float(damped.norm()), 6), "grad_norm_of_logits": round(float(meant.norm()), 6)}
        return Verdict(True, f"rows sum to 1 (softmax output): loss {evidence['loss']:.4g} instead of "
                             f"{evidence['loss_of_logits']:.4g}, gradient norm {evidence['grad_norm']:.3g} instead "
                             f"of {evidence['grad_norm_of_logits']:.3g}", evidence)
    return Verdict(True, "rows sum to 1 (softmax output): cross_entropy normalises them again", evidence)


def _bce_with_logits(x, target) -> Verdict:
    import torch
    import torch.nn.functional as F

    inside = bool((x >= 0).all()) and bool((x <= 1).all())
    if not inside:
        return Verdict(False, "the input has values outside [0, 1] (logits)", {"min": float(x.min()), "max": float(x.max())})
    evidence = {}
    if isinstance(target, torch.Tensor) and target.shape == x.shape:
        target = target.double()
        evidence = {"loss": round(float(F.binary_cross_entropy_with_logits(x, target)), 6),
                    "loss_of_probabilities": round(float(F.binary_cross_entropy(x, target)), 6)}
        return Verdict(True, f"all values in [0, 1] (sigmoid output): loss {evidence['loss']:.4g} instead of "
                             f"{evidence['loss_of_probabilities']:.4g}", evidence)
    return Verdict(True, "all values in [0, 1] (sigmoid output): the sigmoid is applied again", evidence)


ORACLE = Oracle("TL204", (LossCall,), judge)
