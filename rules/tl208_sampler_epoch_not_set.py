from __future__ import annotations

from torchlint.diagnostics import Severity
from torchlint.facts.schedules import Schedules
from torchlint.rule import NodeNote, Rule


class SamplerEpochNotSet(Rule):
    """## What it does
    Reports a `DataLoader` built with a shuffling `DistributedSampler` (the default
    `shuffle=True`) that is iterated by a `for` inside an epoch loop whose iterations never call
    `set_epoch` (`sampler.set_epoch(epoch)`, `loader.sampler.set_epoch(epoch)`, or any
    `set_epoch` call in a same-module helper the loop calls). The loader is followed to its
    sampler through the file: `DataLoader(ds, sampler=...)` or `batch_sampler=BatchSampler(sampler,
    ...)`, a same-module function that returns the loader (also as one element of a tuple:
    `train_loader, val_loader = prepare_dataset()`), and a parameter of the function holding the
    epoch loop when every call of that function in the module passes such a loader (for a
    trainer's `self.train_data = train_data`, every `Trainer(...)` call of the module). The inner `for`
    may iterate the loader directly or through `enumerate`, `tqdm` or a `MetricLogger.log_every`, in
    the epoch loop or in a same-module helper it calls. The finding is at the loader in the inner
    `for` (or at the helper call), with notes at the epoch loop and at the sampler; one per epoch
    loop and sampler.

    Silent for `shuffle=False` (the order is meant to repeat) and for a `shuffle=` we cannot read,
    for loaders handed to a framework that sets the epoch itself (Lightning's `Trainer.fit`,
    Accelerate's `prepare`, the Hugging Face `Trainer`: the loader is then not a plain
    `DataLoader` in this file, or is not iterated here), for a loader or sampler rebuilt inside the
    epoch loop, for a loader or sampler handed inside the epoch loop to code we cannot read (an
    imported `shuffle_dataset(loader, epoch)` may set the epoch), and for a loader that reaches the
    loop as a parameter of a function this module never calls, or calls with a loader of another
    kind or from a framework (`accelerator.prepare(loader)`). A sampler bound to
    `DistributedSampler(...)` on one branch and `None` on the other (single-process runs) counts as
    distributed. Loaders iterated in a function of another module (an imported
    `train_one_epoch(loader, ...)`) are out of reach: that function may set the epoch itself.

    ## Why is this bad?
    `DistributedSampler` shuffles with a generator seeded by `seed + epoch`, and `epoch` only
    changes through `set_epoch`. Without it every epoch draws the same permutation on every
    process: the model sees the batches in the same order each epoch, which weakens the
    regularising effect of shuffling and can hurt convergence. Nothing warns.

    ## Example
    ```python
    from torch.utils.data import DataLoader
    from torch.utils.data.distributed import DistributedSampler

    sampler = DistributedSampler(dataset)
    loader = DataLoader(dataset, batch_size=32, sampler=sampler)
    for epoch in range(10):
        for batch in loader:
            train_step(batch)
    ```

    ## Use instead
    ```python
    from torch.utils.data import DataLoader
    from torch.utils.data.distributed import DistributedSampler

    sampler = DistributedSampler(dataset)
    loader = DataLoader(dataset, batch_size=32, sampler=sampler)
    for epoch in range(10):
        sampler.set_epoch(epoch)
        for batch in loader:
            train_step(batch)
    ```

    ## Fix safety
    No fix: the epoch number to pass (the loop variable, a resumed counter) is the program's.

    ## Runtime verification
    The runtime mode records the indices a `DistributedSampler` hands out each time the program
    iterates its loader (with `num_replicas=1, rank=0` a sampler needs no process group). The claim
    holds when a later epoch draws exactly the order of an earlier one from a sampler that
    shuffles; a silent trap must show a different order, or a sampler built with `shuffle=False`.

    ## References
    - [torch.utils.data.distributed.DistributedSampler](https://pytorch.org/docs/stable/data.html#torch.utils.data.distributed.DistributedSampler)
    """

    code = "TL208"
    name = "sampler-epoch-not-set"
    severity = Severity.WARNING
    summary = "A shuffling DistributedSampler is iterated every epoch without set_epoch()"
    tokens = ("DistributedSampler",)

    VALID = (
        "from torch.utils.data import DataLoader\nfrom torch.utils.data.distributed import DistributedSampler\nsampler = DistributedSampler(ds)\nloader = DataLoader(ds, sampler=sampler)\nfor epoch in range(3):\n    sampler.set_epoch(epoch)\n    for batch in loader:\n        step(batch)\n",
        "from torch.utils.data import DataLoader\nfrom torch.utils.data.distributed import DistributedSampler\nloader = DataLoader(ds, sampler=DistributedSampler(ds, shuffle=False))\nfor epoch in range(3):\n    for batch in loader:\n        step(batch)\n",
    )
    INVALID = (
        "from torch.utils.data import DataLoader\nfrom torch.utils.data.distributed import DistributedSampler\nsampler = DistributedSampler(ds)\nloader = DataLoader(ds, sampler=sampler)\nfor epoch in range(3):\n    for batch in loader:  # expect: TL208\n        step(batch)\n",
    )

    def leave_Module(self, original_node) -> None:
        schedules = self.facts.get(Schedules)
        for unset in schedules.unset_sampler_epochs():
            at = unset.via if unset.via is not None else unset.loader
            notes = [NodeNote(unset.loader, "the loader is iterated here")] if at is not unset.loader else []
            notes.append(NodeNote(unset.epoch_loop, "each iteration of this loop is an epoch that never calls `set_epoch`"))
            notes.append(NodeNote(unset.sampler.node, "this sampler shuffles with `seed + epoch`, and its epoch stays 0"))
            self.report(
                at,
                "this loader's `DistributedSampler` never has its epoch set in the epoch loop: every epoch "
                "draws the same order",
                notes=notes,
                help="call `sampler.set_epoch(epoch)` (or `loader.sampler.set_epoch(epoch)`) at the start of each epoch",
            )
