"""Oracles: what each rule's claim means at run time, decided from a traced call's measurements.

`verdicts(call, tracer)` returns `{code: Verdict}` for every code the call can speak to. A
verdict says whether the claim *holds* for that call; the join decides whether that agrees with
the linter (a claim should hold, a trap should not). Each oracle uses the cheapest exact
evidence: storage identity and bytes, the exception raised, gradient norms, fitted attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torchlint.verify.tracer import Call, Tracer

_VIEW_ERROR = "view size is not compatible"
_OVERLAP_ERRORS = ("refers to a single memory location", "refer to a single memory location")
_SKLEARN_1D_ERRORS = ("Expected 2D array", "Expected a 2-dimensional container")


@dataclass
class Verdict:
    holds: bool
    observed: str
    evidence: dict = field(default_factory=dict)


def verdicts(call: Call, tracer: Tracer) -> dict[str, Verdict]:
    """Every rule code this call can confirm or refute, with the verdict for each."""
    if call.kind == "repeat":
        return {"TL101": repeat_could_be_expand(call)}
    if call.kind == "reshape":
        return {"TL102": reshape_copies(call)}
    if call.kind == "view":
        return {"TL103": view_raised(call)}
    if call.kind == "inplace":
        return {"TL104": write_to_expanded(call)}
    if call.kind == "step":
        return {"TL201": gradients_carried(call), "TL202": gradients_empty(call)}
    if call.kind == "fit":
        found = {"TL303": raised_1d_error(call)}
        if call.data.get("fits") and call.error is None:
            shaped = fitted_on_held_out_rows(call, tracer)
            found["TL301"] = found["TL302"] = shaped
        return found
    if call.kind == "loader":
        return {"TL401": loader_raises(call, tracer)}
    return {}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:160]


def repeat_could_be_expand(call: Call) -> Verdict:
    data = call.data
    if call.error is not None:
        return Verdict(False, f"repeat raised {_first_line(call.error)}")
    source, sizes = data["source"], data["sizes"]
    lead = len(sizes) - source.dim()
    grown = [i for i, k in enumerate(sizes[lead:]) if k != 1]
    wide = [i for i in grown if source.shape[i] != 1]
    evidence = {"allocated_bytes": data["allocated_bytes"], "alternative_bytes": data.get("alternative_bytes"),
                "source_shape": list(source.shape), "repeats": list(sizes)}
    written = data.get("written_at")
    k = max(data["allocated_bytes"], 1) / max(data["source_bytes"], 1)
    if wide:
        return Verdict(False, f"repeated dim {wide[0]} has size {source.shape[wide[0]]}: values differ from expand",
                       evidence)
    if not data["new_storage"] or not data["alternative_equal"] or data.get("alternative_bytes") not in (0,):
        return Verdict(False, f"expand is no alternative ({data.get('alternative_error', 'values or bytes differ')})",
                       evidence)
    if written is not None:
        return Verdict(False, f"result written in place on line {written}: needs its own storage", evidence)
    return Verdict(True, f"repeat allocated {data['allocated_bytes']} B ({k:.0f}x the input); "
                         f"expand: {data['alternative_bytes']} B, equal values", evidence)


def reshape_copies(call: Call) -> Verdict:
    if call.error is not None:
        return Verdict(False, f"reshape raised {_first_line(call.error)}")
    data = call.data
    evidence = {"copied_bytes": data["copied_bytes"], "source_shape": list(data["source_shape"]),
                "source_stride": list(data["source_stride"])}
    if data["copied"]:
        return Verdict(True, f"copied {data['copied_bytes']} B (new storage)", evidence)
    return Verdict(False, "returned a view (same storage, 0 B)", evidence)


def view_raised(call: Call) -> Verdict:
    evidence = {"source_shape": list(call.data["source_shape"]), "source_stride": list(call.data["source_stride"])}
    if call.error is not None and _VIEW_ERROR in str(call.error):
        return Verdict(True, f"raised {_first_line(call.error)}", evidence)
    if call.error is not None:
        return Verdict(False, f"raised another error: {_first_line(call.error)}", evidence)
    return Verdict(False, "returned a view, no error", evidence)


def write_to_expanded(call: Call) -> Verdict:
    data = call.data
    evidence = {"shape": list(data["shape"]), "stride": list(data["stride"]),
                "expand_related": data["expand_related"]}
    if call.error is not None and any(text in str(call.error) for text in _OVERLAP_ERRORS):
        return Verdict(True, f"raised {_first_line(call.error)}", evidence)
    if call.error is not None:
        return Verdict(False, f"raised another error: {_first_line(call.error)}", evidence)
    if not data["expand_related"]:
        return Verdict(False, "target is not an expanded tensor", evidence)
    if data.get("source_changed"):
        return Verdict(True, "write went through to the expand source (shared memory changed)", evidence)
    return Verdict(False, "expand source unchanged", evidence)


def gradients_carried(call: Call) -> Verdict:
    data = call.data
    fresh, carried, total = data["fresh_norm"], data["carried_norm"], data["grad_norm"]
    ratio = total / fresh if fresh else float("inf") if total else 1.0
    evidence = {"grad_norm": total, "fresh_norm": fresh, "carried_norm": carried, "gradient_ratio": ratio}
    if carried > 0:
        return Verdict(True, f"grad at step() = {ratio:.2f}x the fresh gradient; "
                             f"norm {carried:.3g} carried over from the previous step", evidence)
    return Verdict(False, f"gradients reset since the previous step (ratio {ratio:.2f})", evidence)


def gradients_empty(call: Call) -> Verdict:
    data = call.data
    evidence = {"params": data["params"], "none_grads": data["none_grads"], "zero_grads": data["zero_grads"],
                "grad_norm": data["grad_norm"]}
    empty = data["none_grads"] + data["zero_grads"]
    if data["params"] and empty == data["params"]:
        return Verdict(True, f"step() ran with {data['none_grads']} None and {data['zero_grads']} zero "
                             f"gradients of {data['params']}", evidence)
    return Verdict(False, f"step() ran with gradients (norm {data['grad_norm']:.3g})", evidence)


def raised_1d_error(call: Call) -> Verdict:
    if call.error is not None and isinstance(call.error, ValueError) and any(
        text in str(call.error) for text in _SKLEARN_1D_ERRORS
    ):
        return Verdict(True, f"raised {_first_line(call.error)}")
    if call.error is not None:
        return Verdict(False, f"raised another error: {_first_line(call.error)}")
    return Verdict(False, f"{call.name} accepted the input")


def loader_raises(call: Call, tracer: Tracer) -> Verdict:
    from torch.utils.data import DataLoader

    dataset = call.data["dataset"]
    evidence = {"dataset": type(dataset).__name__}
    with tracer.quiet():
        try:
            next(iter(DataLoader(dataset, batch_size=2)))
        except StopIteration:
            return Verdict(False, "DataLoader iterated (empty)", evidence)
        except Exception as exc:  # the claim is precisely that this raises
            return Verdict(True, f"DataLoader raised {_first_line(exc)}", evidence)
    return Verdict(False, "DataLoader produced a batch", evidence)


# -- fitted on held-out rows ----------------------------------------------------------------------

def fitted_on_held_out_rows(call: Call, tracer: Tracer) -> Verdict:
    """TL301/TL302: do the fitted statistics differ from a fit on the training rows alone?"""
    X, y = call.data["X_copy"], call.data["y_copy"]
    found = _training_rows(call, tracer)
    if found is None:
        return Verdict(False, "no held-out rows identified (no split, no *train* variable)")
    how, train_X, train_y = found
    evidence = {"fit_rows": _rows(X), "train_rows": _rows(train_X), "training_rows_from": how}
    with tracer.quiet():
        try:
            from sklearn.base import clone

            reference = clone(call.data["estimator"])
            if y is not None and train_y is not None:
                reference.fit(train_X, train_y)
            else:
                reference.fit(train_X)
        except Exception as exc:
            return Verdict(False, f"could not refit on training rows: {_first_line(exc)}", evidence)
        shift = _largest_shift(_fitted_attributes(call.data["fitted"]), _fitted_attributes(reference))
    if shift is None:
        evidence["max_shift"] = 0.0
        return Verdict(False, f"fitted statistics equal a fit on the {evidence['train_rows']} training rows",
                       evidence)
    name, amount = shift
    evidence.update({"attribute": name, "max_shift": amount})
    return Verdict(True, f"{name} shifted by {amount:.3g} vs a fit on the {evidence['train_rows']} training rows "
                         f"(fit saw {evidence['fit_rows']})", evidence)


def _rows(value) -> int | None:
    shape = getattr(value, "shape", None)
    if shape:
        return int(shape[0])
    try:
        return len(value)
    except TypeError:
        return None


def _same(a, b) -> bool:
    import numpy as np

    if a is b:
        return True
    try:
        left, right = np.asarray(a), np.asarray(b)
        return left.shape == right.shape and left.dtype.kind == right.dtype.kind and bool(
            np.array_equal(left, right)
        )
    except Exception:
        return False


def _take(value, rows):
    from sklearn.utils import _safe_indexing

    return _safe_indexing(value, rows)


def _training_rows(call: Call, tracer: Tracer):
    """(how, X_train, y_train) for the data this fit saw, or None when no split is known."""
    X, y = call.data["X_copy"], call.data["y_copy"]
    n = _rows(X)
    for split in tracer.splits:
        for array, train, test in zip(split["arrays"], split["outputs"][0::2], split["outputs"][1::2]):
            if _same(X, test) or _same(X, train):
                return f"train_test_split on line {split['line']}", train, _matching_train(y, split)
            if _same(X, array):
                return (f"train_test_split on line {split['line']}", _take(X, split["train_rows"]),
                        None if y is None else _take(y, split["train_rows"]))
    for split in tracer.splits:
        if n == split["rows"]:  # the whole data, transformed before it was split
            return (f"rows of train_test_split on line {split['line']}", _take(X, split["train_rows"]),
                    None if y is None else _take(y, split["train_rows"]))
    return _train_variable(call)


def _matching_train(y, split):
    if y is None:
        return None
    for train, test in zip(split["outputs"][0::2], split["outputs"][1::2]):
        if _same(y, test) or _same(y, train):
            return train
    return None


def _train_variable(call: Call):
    import numpy as np

    X = call.data["X_copy"]
    frame = call.data.get("caller")
    shape = getattr(X, "shape", None)
    if frame is None or shape is None:
        return None
    for name, value in frame.f_locals.items():
        if "train" not in name.lower() or value is X or value is call.data["X"]:
            continue
        other = getattr(value, "shape", None)
        if other is not None and len(other) == len(shape) and tuple(other[1:]) == tuple(shape[1:]):
            if _same(value, X):
                return f"variable `{name}`", value, call.data["y_copy"]
            if len(shape) >= 1 and np.ndim(value) >= 1:
                return f"variable `{name}`", value, None
    return None


def _fitted_attributes(estimator) -> dict:
    """Learned attributes (trailing underscore) of an estimator and of the estimators inside it."""
    found = {}
    stack = [("", estimator)]
    seen = set()
    while stack:
        prefix, current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        for key, value in vars(current).items():
            if key.endswith("_") and not key.startswith("_") and not key.endswith("__"):
                found[prefix + key] = value
        params = getattr(current, "get_params", None)
        if params is not None:
            try:
                nested = params(deep=True)
            except Exception:
                nested = {}
            for key, value in nested.items():
                if hasattr(value, "get_params") and not isinstance(value, type):
                    stack.append((f"{prefix}{key}.", value))
        for key in ("steps", "transformers_"):
            for item in getattr(current, key, None) or ():
                if isinstance(item, tuple) and len(item) >= 2 and hasattr(item[1], "get_params"):
                    stack.append((f"{prefix}{item[0]}.", item[1]))
    return found


def _largest_shift(fitted: dict, reference: dict):
    import numpy as np

    best = None
    for name, value in fitted.items():
        if name not in reference or name.endswith("n_samples_seen_"):
            continue
        try:
            left = np.asarray(value, dtype=float)
            right = np.asarray(reference[name], dtype=float)
        except (TypeError, ValueError):
            continue
        if left.shape != right.shape:
            continue
        if left.size == 0 or np.allclose(left, right, equal_nan=True):
            continue
        amount = float(np.nanmax(np.abs(left - right)))
        if best is None or amount > best[1]:
            best = (name, amount)
    return best
