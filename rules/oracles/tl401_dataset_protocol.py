"""TL401 at run time: a DataLoader over the dataset raises when asked for its first batch."""

from __future__ import annotations

from torchlint.rules.oracles import Oracle, first_line
from torchlint.rules.oracles.observations import LoaderCreated, Run, Verdict


def judge(call: LoaderCreated, run: Run) -> Verdict:
    from torch.utils.data import DataLoader

    evidence = {"dataset": type(call.dataset).__name__}
    with run.quiet():
        try:
            next(iter(DataLoader(call.dataset, batch_size=2)))
        except StopIteration:
            return Verdict(False, "DataLoader iterated (empty)", evidence)
        except Exception as exc:  # the claim is precisely that this raises
            return Verdict(True, f"DataLoader raised {first_line(exc)}", evidence)
    return Verdict(False, "DataLoader produced a batch", evidence)


ORACLE = Oracle("TL401", (LoaderCreated,), judge, raises=True)
