"""Runtime verification: run fixture programs and check the linter's claims against measurements.

`torchlint verify` lints each fixture (the static claims plus its `# expect:` markers), then runs
the module in a worker subprocess (`torchlint.verify.worker`) whose cases execute under a
`Tracer`. The tracer records every watched call made from the fixture's own code (repeat,
reshape, view, in-place writes, optimizer steps, scikit-learn fits, DataLoaders) with its
source position; each rule's oracle (`torchlint.rules.oracles`, found from the catalogue) judges
the observations it watches; `torchlint.verify.join` matches those verdicts with the claims by line.

Nothing in this package imports torch or scikit-learn at import time: only the worker process
does, so `torchlint check` never pays for them.
"""

from __future__ import annotations
