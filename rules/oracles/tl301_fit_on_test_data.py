"""TL301 at run time: the fitted statistics differ from a refit on the training rows (`_held_out`)."""

from __future__ import annotations

from torchlint.rules.oracles import Oracle
from torchlint.rules.oracles._held_out import judge
from torchlint.rules.oracles.observations import EstimatorCall

ORACLE = Oracle("TL301", (EstimatorCall,), judge, around=True)
