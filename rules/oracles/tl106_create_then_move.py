"""TL106 at run time: a factory allocated the tensor on the CPU, and the move put it on another device."""

from __future__ import annotations

from torchlint.rules.oracles import Oracle, first_line
from torchlint.rules.oracles.observations import DeviceMove, Run, Verdict


def judge(call: DeviceMove, run: Run) -> Verdict:
    source, result = call.source, call.result
    evidence = {"factory": call.factory, "from": str(source.device),
                "cpu_bytes": source.numel() * source.element_size()}
    if call.error is not None:
        return Verdict(False, f"the move raised {first_line(call.error)}", evidence)
    evidence["to"] = str(result.device)
    if call.factory == "tensor":
        # torch.tensor(data, device=d) fills a CPU tensor and copies it too: the move is unavoidable.
        return Verdict(False, "torch.tensor builds its data on the CPU even with device=", evidence)
    if call.factory_generator:
        return Verdict(False, f"torch.{call.factory} drew from the given generator, which fixes the device", evidence)
    if call.factory_device:
        return Verdict(False, f"torch.{call.factory} was given device=; the move is another matter", evidence)
    if source.device.type != "cpu":
        return Verdict(False, f"torch.{call.factory} allocated on {source.device}, not the CPU", evidence)
    if result.device == source.device:
        return Verdict(False, f"{call.name} stayed on {result.device} (a dtype change or a no-op)", evidence)
    return Verdict(True, f"torch.{call.factory} allocated {evidence['cpu_bytes']} bytes on the CPU, "
                         f"then {call.name} moved them to {result.device}", evidence)


ORACLE = Oracle("TL106", (DeviceMove,), judge)
