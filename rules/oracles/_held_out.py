"""TL301 and TL302 at run time: do the fitted statistics differ from a fit on the training rows alone?

Both rules claim that a fit saw rows it should not have (test rows for TL301, the whole data before
the split for TL302); the measurement is the same: refit a clone on the training rows and compare
every learned attribute.
"""

from __future__ import annotations

from torchlint.rules.oracles import first_line
from torchlint.rules.oracles.observations import EstimatorCall, Run, Split, Verdict


def judge(call: EstimatorCall, run: Run) -> Verdict | None:
    """A verdict for each completed fit; None for transforms and fits that raised."""
    if not call.fits or call.error is not None:
        return None
    return fitted_on_held_out_rows(call, run)


class _Unused(Exception):
    """The fit saw every row, but neither its output nor the estimator met the split data."""


def fitted_on_held_out_rows(call: EstimatorCall, run: Run) -> Verdict:
    """TL301/TL302: do the fitted statistics differ from a fit on the training rows alone?"""
    X, y = call.X_copy, call.y_copy
    try:
        found = _training_rows(call, run)
    except _Unused as unused:
        return Verdict(False, str(unused), {"fit_rows": _rows(X)})
    if found is None:
        return Verdict(False, "no held-out rows identified (no split, no *train* variable)", {"fit_rows": _rows(X)})
    how, train_X, train_y = found
    evidence = {"fit_rows": _rows(X), "train_rows": _rows(train_X), "training_rows_from": how}
    with run.quiet():
        try:
            from sklearn.base import clone

            reference = clone(call.estimator)
            if y is not None and train_y is not None:
                reference.fit(train_X, train_y)
            else:
                reference.fit(train_X)
        except Exception as exc:
            return Verdict(False, f"could not refit on the training rows: {first_line(exc)}", evidence)
        shift = _largest_shift(_fitted_attributes(call.fitted), _fitted_attributes(reference))
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


def _training_rows(call: EstimatorCall, run: Run):
    """(how, X_train, y_train) for the data this fit saw, or None when no training rows are known."""
    X, y = call.X_copy, call.y_copy
    for split in run.splits:
        for train, test in zip(split.outputs[0::2], split.outputs[1::2]):
            if _same(X, train):
                return f"the split on line {split.line}", train, y
            if _same(X, test):
                return f"the split on line {split.line}", train, _matching_train(y, split, call)
    for split in run.splits:
        whole = any(_same(X, array) for array in split.arrays) or _rows(X) == split.rows
        if whole:  # every row, before or after the split: a leak only if what it learned meets the split
            if not _meets_split(call, run, split):
                raise _Unused(f"fitted on all {split.rows} rows, but neither its output nor the estimator "
                              f"touched the data split on line {split.line}")
            return (f"the rows of the split on line {split.line}", _take(X, split.train_rows),
                    None if y is None else _take(y, split.train_rows))
    return _train_variable(call, run)


def _later_calls(call: EstimatorCall, run: Run):
    return [c for c in run.calls if c.index > call.index and isinstance(c, EstimatorCall)
            and c.estimator is call.estimator and not c.fits]


def _meets_split(call: EstimatorCall, run: Run, split: Split) -> bool:
    output = call.output
    parts = split.outputs
    if output is not None and any(_same(output, array) or _columns_in(output, array) for array in split.arrays):
        return True
    return any(_same(later.X, part) for later in _later_calls(call, run) for part in parts)


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


def _matching_train(y, split, call: EstimatorCall):
    """The training targets that go with held-out targets `y` of this split."""
    if y is None:
        return None
    for train, test in zip(split.outputs[0::2], split.outputs[1::2]):
        if _same(y, test):
            return train
    for value in (call.caller_locals or {}).values():  # `y` of `KFold.split(X)` loops
        if _rows(value) == split.rows and getattr(value, "ndim", 1) == getattr(y, "ndim", 1):
            try:
                if _same(_take(value, split.test_rows), y):
                    return _take(value, split.train_rows)
            except Exception:
                continue
    return None


def _train_variable(call: EstimatorCall, run: Run):
    """Training rows by name: a `*train*` variable of the caller with the fitted data's width."""
    X, frame = call.X_copy, call.caller
    shape = getattr(X, "shape", None)
    if shape is None:
        return None
    output = call.output
    # The names as they were at the fit first; then as the case left them (a split made later).
    for scope in (call.caller_locals or {}, frame.f_locals if frame is not None else {}):
        candidates = []
        for name, value in scope.items():
            other = getattr(value, "shape", None)
            if "train" in name.lower() and other is not None and len(other) == len(shape) and (
                tuple(other[1:]) == tuple(shape[1:])
            ):
                candidates.append((name, value))
        for name, value in candidates:
            if value is call.X or _same(value, X):
                return f"variable `{name}`", value, call.y_copy
        for name, value in candidates:
            how = f"variable `{name}`"
            rows = _row_positions(value, X)
            if rows is not None and len(rows) < _rows(X):
                if not _later_calls(call, run) and output is None:
                    raise _Unused(f"fitted on {name} plus other rows, but the estimator was not used afterwards")
                return how, _take(X, rows), _take_targets(call.y_copy, rows)
            rows = _row_positions(value, output) if output is not None else None
            if rows is not None:
                return f"{how} (rows of the fit's output)", _take(X, rows), _take_targets(call.y_copy, rows)
            return how, value, _train_targets(scope, value, call.y_copy)
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
