"""TL208 at run time: a shuffling DistributedSampler handed out the same order in two epochs."""

from __future__ import annotations

from torchlint.rules.oracles import Oracle
from torchlint.rules.oracles.observations import Run, SamplerEpoch, Verdict


def judge(call: SamplerEpoch, run: Run) -> Verdict | None:
    earlier = [c for c in run.calls if isinstance(c, SamplerEpoch) and c.sampler == call.sampler
               and c.index < call.index]
    if not earlier:
        return None  # one epoch says nothing about the next
    evidence = {"epochs": len(earlier) + 1, "epoch": call.epoch, "size": len(call.order)}
    if not call.shuffle:
        return Verdict(False, "shuffle=False: the same order every epoch is what was asked", evidence)
    repeated = [c for c in earlier if c.order == call.order]
    if repeated:
        return Verdict(True, f"pass {len(earlier) + 1} drew the same {len(call.order)} indices in the same order "
                             f"as pass {earlier.index(repeated[0]) + 1} (epoch stays {call.epoch})", evidence)
    return Verdict(False, f"pass {len(earlier) + 1} drew a new order (epoch {call.epoch})", evidence)


ORACLE = Oracle("TL208", (SamplerEpoch,), judge, around=True)
