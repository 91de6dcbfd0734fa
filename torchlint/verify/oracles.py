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


def raised_verdicts(error: BaseException) -> dict[str, Verdict]:
    """Verdicts for a statement that raised outside any watched call, from the error alone."""
    text = str(error)
    observed = f"statement raised {_first_line(error)}"
    return {
        "TL103": Verdict(isinstance(error, RuntimeError) and _VIEW_ERROR in text, observed),
        "TL104": Verdict(isinstance(error, RuntimeError) and any(t in text for t in _OVERLAP_ERRORS), observed),
        "TL303": Verdict(isinstance(error, ValueError) and any(t in text for t in _SKLEARN_1D_ERRORS), observed),
    }


def _first_line(exc: BaseException) -> str:
    """`Type: first sentence of the message`, short enough for a table cell."""
    lines = str(exc).strip().splitlines()
    sentence = (lines[0] if lines else "").split(". ")[0].rstrip(".")
    return f"{type(exc).__name__}: {sentence}"[:160] if sentence else type(exc).__name__


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
    if written is not None or data["result"]._version != data["version"]:
        where = f" on line {written}" if written is not None else ""
        return Verdict(False, f"result written in place{where}: needs its own storage", evidence)
    blocked = _followup_blocks_expand(source, data)
    if blocked:
        return Verdict(False, blocked, evidence)
    return Verdict(True, f"repeat allocated {data['allocated_bytes']} B ({k:.0f}x the input); "
                         f"expand: {data['alternative_bytes']} B, equal values", evidence)


def _followup_blocks_expand(source, data) -> str | None:
    """Replay the program's later view/reshape/flatten of the result on the expanded alternative."""
    import torch

    expanded = source.expand(data["result"].shape)
    for name, args, kwargs, line in data["followups"]:
        try:
            out = getattr(torch.Tensor, name)(expanded, *args, **kwargs)
        except RuntimeError as exc:
            return f"`{name}` on line {line} would raise on the expanded tensor ({_first_line(exc)[:60]})"
        if out.untyped_storage().data_ptr() != source.untyped_storage().data_ptr():
            copied = out.numel() * out.element_size()
            return f"`{name}` on line {line} copies the expanded tensor anyway ({copied} B)"
    return None


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

class _Unused(Exception):
    """The fit saw every row, but neither its output nor the estimator met the split data."""


def fitted_on_held_out_rows(call: Call, tracer: Tracer) -> Verdict:
    """TL301/TL302: do the fitted statistics differ from a fit on the training rows alone?"""
    X, y = call.data["X_copy"], call.data["y_copy"]
    try:
        found = _training_rows(call, tracer)
    except _Unused as unused:
        return Verdict(False, str(unused), {"fit_rows": _rows(X)})
    if found is None:
        return Verdict(False, "no held-out rows identified (no split, no *train* variable)", {"fit_rows": _rows(X)})
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
            return Verdict(False, f"could not refit on the training rows: {_first_line(exc)}", evidence)
        shift = _largest_shift(_fitted_attributes(call.data["fitted"]), _fitted_attributes(reference))
    if shift is None:
        evidence["max_shift"] = 0.0
        return Verdict(False, f"fitted statistics equal a fit on the {evidence['train_rows']} training rows",
                       evidence)
    name, amount, text = shift
    evidence.update({"attribute": name, "max_shift": amount})
    return Verdict(True, f"{name} {text} vs a fit on the {evidence['train_rows']} training rows "
                         f"(fit saw {evidence['fit_rows']}; training rows from {how})", evidence)


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
    if a is None or b is None:
        return False
    try:
        left, right = np.asarray(a), np.asarray(b)
        return left.ndim > 0 and left.shape == right.shape and left.dtype.kind == right.dtype.kind and bool(
            np.array_equal(left, right)
        )
    except Exception:
        return False


def _take(value, rows):
    from sklearn.utils import _safe_indexing

    return _safe_indexing(value, rows)


def _row_positions(part, whole):
    """Indices `i` with `part == whole[i]`, row by row, or None when some row is not in `whole`."""
    import numpy as np

    try:
        a, b = np.asarray(part), np.asarray(whole)
        if a.ndim == 0 or a.ndim != b.ndim or a.shape[1:] != b.shape[1:] or a.dtype.kind not in "biuf" or (
            b.dtype.kind not in "biuf"
        ):
            return None
        a, b = np.ascontiguousarray(a, dtype=float), np.ascontiguousarray(b, dtype=float)
    except Exception:
        return None
    where = {}
    for index, row in enumerate(b):
        where.setdefault(row.tobytes(), index)
    found = [where.get(row.tobytes()) for row in a]
    return None if any(i is None for i in found) else np.asarray(found)


def _training_rows(call: Call, tracer: Tracer):
    """(how, X_train, y_train) for the data this fit saw, or None when no training rows are known."""
    X, y = call.data["X_copy"], call.data["y_copy"]
    for split in tracer.splits:
        for train, test in zip(split["outputs"][0::2], split["outputs"][1::2]):
            if _same(X, train):
                return f"the split on line {split['line']}", train, y
            if _same(X, test):
                return f"the split on line {split['line']}", train, _matching_train(y, split, call)
    for split in tracer.splits:
        whole = any(_same(X, array) for array in split["arrays"]) or _rows(X) == split["rows"]
        if whole:  # every row, before or after the split: a leak only if what it learned meets the split
            if not _meets_split(call, tracer, split):
                raise _Unused(f"fitted on all {split['rows']} rows, but neither its output nor the estimator "
                              f"touched the data split on line {split['line']}")
            return (f"the rows of the split on line {split['line']}", _take(X, split["train_rows"]),
                    None if y is None else _take(y, split["train_rows"]))
    return _train_variable(call, tracer)


def _later_calls(call: Call, tracer: Tracer):
    estimator = call.data["estimator"]
    return [c for c in tracer.calls[call.index + 1:] if c.kind == "fit" and c.data.get("estimator") is estimator
            and not c.data.get("fits")]


def _meets_split(call: Call, tracer: Tracer, split: dict) -> bool:
    output = call.data.get("output")
    parts = split["outputs"]
    if output is not None and any(_same(output, array) or _columns_in(output, array) for array in split["arrays"]):
        return True
    return any(_same(later.data["X"], part) for later in _later_calls(call, tracer) for part in parts)


def _columns_in(output, frame) -> bool:
    """A DataFrame split after some of its columns were replaced by the fit's output."""
    import numpy as np

    try:
        out, data = np.asarray(output, dtype=float), np.asarray(frame, dtype=float)
    except (TypeError, ValueError):
        return False
    if out.ndim != 2 or data.ndim != 2 or len(out) != len(data):
        return False
    return all(any(np.allclose(out[:, i], data[:, j]) for j in range(data.shape[1])) for i in range(out.shape[1]))


def _matching_train(y, split, call: Call):
    """The training targets that go with held-out targets `y` of this split."""
    if y is None:
        return None
    for train, test in zip(split["outputs"][0::2], split["outputs"][1::2]):
        if _same(y, test):
            return train
    for value in (call.data.get("caller_locals") or {}).values():  # `y` of `KFold.split(X)` loops
        if _rows(value) == split["rows"] and getattr(value, "ndim", 1) == getattr(y, "ndim", 1):
            try:
                if _same(_take(value, split["test_rows"]), y):
                    return _take(value, split["train_rows"])
            except Exception:
                continue
    return None


def _train_variable(call: Call, tracer: Tracer):
    """Training rows by name: a `*train*` variable of the caller with the fitted data's width."""
    X, frame = call.data["X_copy"], call.data.get("caller")
    shape = getattr(X, "shape", None)
    if shape is None:
        return None
    output = call.data.get("output")
    # The names as they were at the fit first; then as the case left them (a split made later).
    for scope in (call.data.get("caller_locals") or {}, frame.f_locals if frame is not None else {}):
        candidates = []
        for name, value in scope.items():
            other = getattr(value, "shape", None)
            if "train" in name.lower() and other is not None and len(other) == len(shape) and (
                tuple(other[1:]) == tuple(shape[1:])
            ):
                candidates.append((name, value))
        for name, value in candidates:
            if value is call.data["X"] or _same(value, X):
                return f"variable `{name}`", value, call.data["y_copy"]
        for name, value in candidates:
            how = f"variable `{name}`"
            rows = _row_positions(value, X)
            if rows is not None and len(rows) < _rows(X):
                if not _later_calls(call, tracer) and output is None:
                    raise _Unused(f"fitted on {name} plus other rows, but the estimator was not used afterwards")
                return how, _take(X, rows), _take_targets(call.data["y_copy"], rows)
            rows = _row_positions(value, output) if output is not None else None
            if rows is not None:
                return f"{how} (rows of the fit's output)", _take(X, rows), _take_targets(call.data["y_copy"], rows)
            return how, value, _train_targets(scope, value, call.data["y_copy"])
    return None


def _take_targets(y, rows):
    return None if y is None else _take(y, rows)


def _train_targets(scope: dict, train_X, y):
    if y is None:
        return None
    rows = _rows(train_X)
    for name, value in scope.items():
        if "train" in name.lower() and getattr(value, "ndim", None) == getattr(y, "ndim", None) and (
            _rows(value) == rows
        ) and value is not train_X:
            return value
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
            elif hasattr(value, "get_params") and not isinstance(value, type):
                stack.append((f"{prefix}{key}.", value))  # e.g. TfidfVectorizer._tfidf
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


_BOOKKEEPING = ("n_samples_seen_", "n_samples_", "n_iter_", "n_features_in_", "cv_results_")


def _is_bookkeeping(name: str) -> bool:
    # Row counts, iteration counts and timings differ with any subset: not statistics of the data.
    leaf = name.rsplit(".", 1)[-1]
    return leaf in _BOOKKEEPING or "time" in leaf


def _difference(value, other):
    """(amount, description) when two fitted attributes differ, else None."""
    import numpy as np

    if isinstance(value, dict) or isinstance(other, dict):
        return None if value == other else (float("inf"), f"differs ({len(value)} vs {len(other)} entries)")
    try:
        left, right = np.asarray(value), np.asarray(other)
    except Exception:
        return None
    if left.dtype.kind == "O" or right.dtype.kind == "O":
        return None
    if left.shape != right.shape:
        return float("inf"), f"has shape {left.shape} vs {right.shape}"
    if left.dtype.kind in "biufc" and right.dtype.kind in "biufc":
        left, right = left.astype(float), right.astype(float)
        if left.size == 0 or np.allclose(left, right, equal_nan=True):
            return None
        amount = float(np.nanmax(np.abs(left - right)))
        return amount, f"shifted by {amount:.3g}"
    return None if np.array_equal(left, right) else (float("inf"), "differs")


def _largest_shift(fitted: dict, reference: dict):
    best = None
    for name, value in fitted.items():
        if name not in reference or _is_bookkeeping(name):
            continue
        found = _difference(value, reference[name])
        if found is not None and (best is None or found[0] > best[1]):
            best = (name, found[0], found[1])
    return best
