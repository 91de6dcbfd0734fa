"""Data roles: which values are training, test or validation data, and what was fitted on them.

One ordered pass over each scope (the module, then each function as it is defined) follows
values through assignments the way a reader of a notebook does, cell after cell:

- a value's *role* comes from the words of the name it is bound to (`X_test`, `valid_df`,
  `holdout`; never substrings: `latest`, `contest`, `interval` are not test data), and from flow:
  the outputs of `train_test_split` by position, `for train_idx, test_idx in kf.split(X)`,
  `pd.read_csv("test.csv")`, loaders named for a split, and expressions over role-bearing names;
- its *sources* are the data sets it was derived from (each reader or constructor call is one);
- its *taints* are the fits whose learned statistics it carries (`fit_transform` outputs, and
  `transform` outputs of an object fitted on it);
- fitted objects (scalers, encoders, PCA, pipelines, estimators) are recognised from their
  constructor through imports and aliases, and every `fit`/`fit_transform`/`partial_fit`, use and
  split is recorded in program order.

From those records the fact derives leaks (a fit on held-out data; a fit on data that is split
into train and test afterwards) and shape problems (1-D data given to a 2-D transformer). The
analysis is deliberately forward-only and approximate: branches are read in order, loops once.
Whenever it cannot tell, it records nothing, so the rules stay silent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from torchlint._lazy import lazy_module
from torchlint.facts.names import dotted_name
from torchlint.walk import TRIVIA, children

cst = lazy_module("libcst")

TRAIN, TEST, VALID = "train", "test", "validation"
HELD_OUT = frozenset({TEST, VALID})

# Whole words of a name that say which split it holds.
_ROLE_WORDS = {
    "train": (TRAIN,),
    "training": (TRAIN,),
    "trn": (TRAIN,),
    "test": (TEST,),
    "testing": (TEST,),
    "tst": (TEST,),
    "holdout": (TEST,),
    "val": (VALID,),
    "valid": (VALID,),
    "validation": (VALID,),
    "eval": (VALID,),
    "evaluation": (VALID,),
    "dev": (VALID,),
    "trainval": (TRAIN, VALID),
    "tr": (TRAIN,),
    "te": (TEST,),
}
# A name with one of these words is about a split, not the split's data: `test_size`, `n_test`,
# `val_loss`, `test_path`, `test_cols`, `is_test`, `y_test_pred`...
_META_WORDS = frozenset(
    [
        "size",
        "sizes",
        "sz",
        "ratio",
        "frac",
        "fraction",
        "pct",
        "percent",
        "portion",
        "prop",
        "proportion",
        "split",
        "n",
        "num",
        "number",
        "nb",
        "len",
        "length",
        "count",
        "cnt",
        "shape",
        "score",
        "scores",
        "acc",
        "accuracy",
        "loss",
        "losses",
        "err",
        "error",
        "errors",
        "metric",
        "metrics",
        "mse",
        "rmse",
        "mae",
        "auc",
        "r2",
        "f1",
        "pred",
        "preds",
        "prediction",
        "predictions",
        "predicted",
        "yhat",
        "hat",
        "prob",
        "probs",
        "proba",
        "result",
        "results",
        "report",
        "path",
        "paths",
        "file",
        "files",
        "filename",
        "fname",
        "dir",
        "folder",
        "url",
        "name",
        "names",
        "col",
        "cols",
        "column",
        "columns",
        "id",
        "ids",
        "time",
        "start",
        "end",
        "begin",
        "seed",
        "state",
        "stat",
        "stats",
        "statistic",
        "pvalue",
        "case",
        "cases",
        "suite",
        "func",
        "fn",
        "function",
        "method",
        "cmd",
        "string",
        "str",
        "msg",
        "type",
        "kind",
        "cfg",
        "config",
        "args",
        "params",
        "param",
        "is",
        "do",
        "run",
        "use",
        "mode",
        "only",
        "flag",
        "every",
        "freq",
        "step",
        "steps",
        "epoch",
        "epochs",
        "history",
        "hist",
        "curve",
        "plot",
        "fig",
        "ax",
        "model",
        "models",
        "clf",
        "idx2",
        "dates",
    ]
)
# `val`, `valid`, `eval` and `dev` also abbreviate value, valid-as-correct, evaluate and device
# (`max_val`, `valid_rows`, `eval_fn`): they name a split only next to words for data.
_AMBIGUOUS_ROLE_WORDS = frozenset({"val", "valid", "eval", "evaluation", "dev", "tr", "te"})
_DATA_WORDS = frozenset(
    [
        "x",
        "y",
        "z",
        "df",
        "dfs",
        "data",
        "dataset",
        "datasets",
        "ds",
        "set",
        "sets",
        "loader",
        "loaders",
        "dl",
        "features",
        "feature",
        "feats",
        "feat",
        "labels",
        "label",
        "target",
        "targets",
        "images",
        "image",
        "imgs",
        "img",
        "inputs",
        "input",
        "samples",
        "sample",
        "batch",
        "batches",
        "frame",
        "arr",
        "array",
        "matrix",
        "mat",
        "tensor",
        "tensors",
        "seq",
        "seqs",
        "text",
        "texts",
        "docs",
        "documents",
        "sentences",
        "tokens",
        "encodings",
        "generator",
        "gen",
        "iter",
        "fold",
        "part",
        "scaled",
        "std",
        "norm",
        "normalized",
        "transformed",
        "processed",
        "prepared",
        "pca",
        "tfidf",
        "vec",
        "vectors",
        "counts",
        "reduced",
        "idx",
        "index",
        "indices",
        "mask",
        "subset",
        "sub",
        "split",
        "raw",
        "clean",
        "final",
        "full",
        "new",
        "all",
        "gt",
        "ts",
        "series",
        "pairs",
        "files",
    ]
)

# Readers whose file name says the split (`pd.read_csv("data/test.csv")`).
_READERS = frozenset(
    {
        "pandas.read_csv",
        "pandas.read_table",
        "pandas.read_excel",
        "pandas.read_parquet",
        "pandas.read_json",
        "pandas.read_feather",
        "pandas.read_pickle",
        "pandas.read_hdf",
        "numpy.load",
        "numpy.loadtxt",
        "numpy.genfromtxt",
    }
)
_FRAME_MAKERS = frozenset({"pandas.DataFrame", "pandas.concat", "pandas.get_dummies", "pandas.merge"})
_SPLITTERS = frozenset(
    {
        "KFold",
        "StratifiedKFold",
        "GroupKFold",
        "RepeatedKFold",
        "RepeatedStratifiedKFold",
        "ShuffleSplit",
        "StratifiedShuffleSplit",
        "GroupShuffleSplit",
        "TimeSeriesSplit",
        "LeaveOneOut",
        "LeavePOut",
        "StratifiedGroupKFold",
        "LeaveOneGroupOut",
    }
)
_LABEL_ENCODERS = frozenset({"LabelEncoder", "LabelBinarizer", "MultiLabelBinarizer"})
# Transformers that learn nothing from the data they are fitted on.
_STATELESS = frozenset(
    {
        "PolynomialFeatures",
        "FunctionTransformer",
        "Normalizer",
        "Binarizer",
        "HashingVectorizer",
        "FeatureHasher",
    }
)
# Text and dict vectorizers take 1-D input on purpose; FunctionTransformer checks nothing.
_ACCEPTS_1D = frozenset(
    {
        "CountVectorizer",
        "TfidfVectorizer",
        "HashingVectorizer",
        "DictVectorizer",
        "FeatureHasher",
        "FunctionTransformer",
        "TfidfTransformer",
    }
)
_PREPROCESSING_MODULES = frozenset(
    {
        "preprocessing",
        "impute",
        "feature_selection",
        "feature_extraction",
        "kernel_approximation",
        "random_projection",
    }
)
_UNSUPERVISED_MODULES = frozenset({"cluster", "manifold", "mixture", "covariance"})
_ESTIMATOR_MODULES = frozenset(
    {
        "linear_model",
        "ensemble",
        "svm",
        "tree",
        "neighbors",
        "naive_bayes",
        "neural_network",
        "discriminant_analysis",
        "gaussian_process",
        "kernel_ridge",
        "isotonic",
        "dummy",
        "multiclass",
        "multioutput",
        "semi_supervised",
        "cross_decomposition",
    }
)
_BOOSTING = ("xgboost", "lightgbm", "catboost")
# Method calls that hand data to a model: a fit whose output reaches one of them was consumed.
_MODEL_METHODS = frozenset(
    {
        "fit",
        "predict",
        "predict_proba",
        "predict_log_proba",
        "score",
        "decision_function",
        "evaluate",
        "fit_predict",
        "partial_fit",
    }
)
_PREDICTIONS = frozenset(
    {
        "predict",
        "predict_proba",
        "predict_log_proba",
        "decision_function",
        "score",
        "evaluate",
    }
)
_FIT_METHODS = frozenset({"fit", "fit_transform", "partial_fit"})
_SHAPE_METHODS = frozenset({"fit", "fit_transform", "transform", "inverse_transform", "partial_fit"})
# DataFrame methods that return a DataFrame of the same rows (or a subset).
_FRAME_METHODS = frozenset(
    {
        "copy",
        "drop",
        "dropna",
        "fillna",
        "reset_index",
        "sort_values",
        "sort_index",
        "select_dtypes",
        "assign",
        "rename",
        "replace",
        "astype",
        "query",
        "head",
        "tail",
        "sample",
        "merge",
        "join",
        "set_index",
        "filter",
        "drop_duplicates",
        "interpolate",
        "ffill",
        "bfill",
        "to_frame",
        "apply",
        "clip",
        "abs",
        "round",
    }
)
# Attributes that describe a frame or array rather than hold its rows.
_METADATA_ATTRIBUTES = frozenset({"columns", "shape", "dtypes", "dtype", "size", "ndim", "name", "names", "nbytes"})
# Derivations that keep the same rows, for spotting `test = data[n:]`-style splits.
_ROW_SUBSET_METHODS = frozenset({"copy", "reset_index", "head", "tail", "sample", "drop", "to_numpy", "astype"})


def split_words(name: str) -> list[str]:
    """`X_testScaled2` -> ["x", "test", "scaled", "2"]: snake_case, camelCase and digits."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"([A-Za-z])([0-9])", r"\1 \2", spaced)
    words = []
    for word in re.split(r"[^A-Za-z0-9]+", spaced):
        word = word.lower()
        glued = _GLUED.fullmatch(word)  # `Xtest`, `ytrain`: one word in the handbook's style
        words.extend(glued.groups() if glued else [word] if word else [])
    return words


_GLUED = re.compile(r"([xy])(train|test|val|valid|trn|tst)")


def roles_of_name(name: str) -> frozenset[str]:
    """The split a name is about, by whole words; empty for `contest`, `test_size`, `latest`."""
    words = split_words(name)
    if not words or any(w in _META_WORDS for w in words):
        return frozenset()
    found = set()
    others = [w for w in words if w not in _ROLE_WORDS]
    ambiguous_ok = all(w in _DATA_WORDS or w.isdigit() or len(w) == 1 for w in others)
    for index, word in enumerate(words):
        if word in _AMBIGUOUS_ROLE_WORDS and not ambiguous_ok:
            continue
        if word == "hold" and index + 1 < len(words) and words[index + 1] == "out":
            found.add(TEST)
        found.update(_ROLE_WORDS.get(word, ()))
    if "dev" in words and len(words) == 1:
        found.discard(VALID)  # a lone `dev` is a device more often than a split
    return frozenset(found)


def is_bare_role_name(name: str) -> bool:
    """`test`, `val`: role words alone, which also name flags, functions and strings."""
    return len(split_words(name)) == 1


def roles_of_file(text: str) -> frozenset[str]:
    """`data/test.csv` -> test; the base name's words only (`latest.csv` is nothing)."""
    base = text.replace("\\", "/").rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return roles_of_name(stem)


@dataclass(frozen=True)
class Evidence:
    """A node that proves part of a claim, with the label shown there."""

    node: Any
    label: str


@dataclass
class Fitted:
    """An object that learns from data when fitted: a transformer, pipeline or estimator."""

    kind: str  # transformer | decomposition | pipeline | estimator | stateless | label | unsupervised | splitter
    class_name: str
    qualified: str | None
    node: Any  # where it was constructed (or first seen)
    fits: list[FitEvent] = field(default_factory=list)
    uses: list[tuple[int, Any, Value]] = field(default_factory=list)  # (order, call, data) of transforms

    @property
    def requires_2d(self) -> bool:
        if self.qualified is None or not self.qualified.startswith("sklearn."):
            return False
        module = self.qualified.split(".")[1]
        return (
            module in ("preprocessing", "impute", "feature_selection", "decomposition")
            and self.kind in ("transformer", "decomposition", "stateless")
            and self.class_name not in _ACCEPTS_1D
        )


@dataclass
class Value:
    """What the analysis knows about one value."""

    roles: frozenset[str] = frozenset()
    role_evidence: Evidence | None = None
    sources: frozenset[int] = frozenset()
    taints: frozenset[int] = frozenset()  # ids of fits whose statistics this value carries
    obj: Fitted | None = None
    one_d: Evidence | None = None
    frame: bool = False
    data: bool = False  # looks like data rather than a literal, flag or function
    string: bool = False
    kfold: bool = False  # iterating it yields (train indices, test indices)
    split_call: Any = None  # the train_test_split call this is the result of
    split_inputs: tuple = ()  # the values given to that call, by position


@dataclass
class FitEvent:
    id: int
    order: int
    call: Any
    method: str
    obj: Fitted
    data_node: Any
    data: Value
    tainted_splits: list = field(default_factory=list)  # splits whose input carries this fit
    consumed: bool = False  # its output reached a model
    conditional: bool = False  # under an `if`/`while`/`except` inside a function: may not run


@dataclass
class CallSite:
    """A call of a module-level function of the same file, with what its arguments hold."""

    function: Any  # the FunctionDef
    call: Any
    arguments: list  # (Arg node, Value) in order


@dataclass
class Split:
    order: int
    node: Any
    value: Value


@dataclass
class Leak:
    """A fit that learns from held-out data: TL301 (fitted on test) or TL302 (fitted before split)."""

    code: str
    fit: FitEvent
    message: str
    notes: list[Evidence]
    help: str
    fix_node: Any = None  # the `fit_transform` name to rename to `transform`, when that is safe


@dataclass
class ShapeProblem:
    """1-D data given to a transformer that requires `[n_samples, n_features]` (TL303)."""

    call: Any
    method: str
    obj: Fitted
    argument: Any
    evidence: Evidence
    column_key: Any = None  # the string index of `df["c"]`, when the fix `df[["c"]]` applies


class _Scope:
    def __init__(self, parent: _Scope | None = None) -> None:
        self.parent = parent
        self.bindings: dict[str, Value] = {}

    def lookup(self, key: str) -> Value | None:
        scope: _Scope | None = self
        while scope is not None:
            if key in scope.bindings:
                return scope.bindings[key]
            scope = scope.parent
        return None


def _union(values: Iterable[Value]) -> Value:
    roles: set[str] = set()
    sources: set[int] = set()
    taints: set[int] = set()
    evidence = None
    data = False
    for value in values:
        roles |= value.roles
        sources |= value.sources
        taints |= value.taints
        evidence = evidence or value.role_evidence
        data = data or value.data
    return Value(frozenset(roles), evidence, frozenset(sources), frozenset(taints), data=data)


def _short(node) -> str:
    """Source text of a small expression, for messages."""
    text = " ".join(cst.Module(body=[]).code_for_node(node).split())
    return text if len(text) <= 40 else text[:37] + "..."


class DataRoles:
    """The data-role fact of one file: fits, splits, leaks and shape problems, in program order."""

    def __init__(self) -> None:
        self.fits: list[FitEvent] = []
        self.splits: list[Split] = []
        self.objects: list[Fitted] = []
        self.shape_problems: list[ShapeProblem] = []
        self.leaks: list[Leak] = []
        self.calls: list[CallSite] = []
        # source id of a parameter's value -> (FunctionDef, position, name)
        self.parameters: dict[int, tuple[Any, int, str]] = {}
        self._values: dict[Any, Value] = {}

    @classmethod
    def build(cls, facts) -> DataRoles:
        roles = cls()
        try:
            _Analyzer(roles, facts.names).run(facts.module)
        except RecursionError:
            return cls()  # an absurdly nested expression: know nothing rather than guess
        roles.leaks = _judge(roles)
        return roles

    def value_of(self, node) -> Value | None:
        """What was known about an expression node when it was evaluated (None if never)."""
        return self._values.get(node)

    def roles_of(self, node) -> frozenset[str]:
        value = self._values.get(node)
        return value.roles if value is not None else frozenset()

    def leaks_for(self, code: str) -> list[Leak]:
        return [leak for leak in self.leaks if leak.code == code]


class _Analyzer:
    def __init__(self, result: DataRoles, names) -> None:
        self.result = result
        self.names = names
        self.order = 0
        self.next_source = 0
        self.conditional = 0  # depth of conditional blocks inside the current function
        self.functions: dict[str, Any] = {}  # module-level functions defined so far

    # --- statements ---------------------------------------------------------------------------

    def run(self, module) -> None:
        self.block(module.body, _Scope())

    def block(self, statements, scope: _Scope) -> None:
        for statement in statements:
            self.statement(statement, scope)

    def statement(self, statement, scope: _Scope) -> None:
        if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            for small in statement.body:
                self.small_statement(small, scope)
        elif isinstance(statement, cst.FunctionDef):
            self.function(statement, scope)
        elif isinstance(statement, cst.ClassDef):
            self.block(_body(statement.body), _Scope(scope))
        elif isinstance(statement, cst.For):
            self.for_loop(statement, scope)
        elif isinstance(statement, (cst.If, cst.While)):
            self.eval(statement.test, scope)
            self.conditional += 1
            self.block(_body(statement.body), scope)
            if statement.orelse is not None:
                orelse = statement.orelse
                self.block([orelse] if isinstance(orelse, cst.If) else _body(orelse.body), scope)
            self.conditional -= 1
        elif isinstance(statement, cst.With):
            for item in statement.items:
                value = self.eval(item.item, scope)
                if item.asname is not None:
                    self.bind(item.asname.name, value, item.item, scope)
            self.block(_body(statement.body), scope)
        elif isinstance(statement, (cst.Try, getattr(cst, "TryStar", cst.Try))):
            self.block(_body(statement.body), scope)
            self.conditional += 1
            for handler in statement.handlers:
                self.block(_body(handler.body), scope)
            self.conditional -= 1
            for part in (statement.orelse, statement.finalbody):
                if part is not None:
                    self.block(_body(part.body), scope)
        elif isinstance(statement, cst.Match):
            self.eval(statement.subject, scope)
            self.conditional += 1
            for case in statement.cases:
                self.block(_body(case.body), scope)
            self.conditional -= 1

    def function(self, node, scope: _Scope) -> None:
        inner = _Scope(scope)
        module_level = scope.parent is None
        for position, param in enumerate(_parameters(node.params)):
            name = param.name.value
            roles = roles_of_name(name)
            if roles and not is_bare_role_name(name):
                evidence = Evidence(param.name, f"`{name}` is named as {_role_text(roles)} data")
                inner.bindings[name] = Value(roles, evidence, data=True)
            else:
                # What a parameter holds is decided at each call: remember where it came from.
                source = self.new_source()
                inner.bindings[name] = Value(sources=frozenset({source}))
                if module_level:
                    self.result.parameters[source] = (node, position, name)
        outer_conditional, self.conditional = self.conditional, 0
        self.block(_body(node.body), inner)
        self.conditional = outer_conditional
        if module_level:
            self.functions[node.name.value] = node

    def for_loop(self, node, scope: _Scope) -> None:
        iterable = node.iter
        value = self.eval(iterable, scope)
        target = node.target
        if (
            not value.kfold
            and isinstance(iterable, cst.Call)
            and isinstance(iterable.func, cst.Name)
            and iterable.func.value == "enumerate"
            and iterable.args
            and self._value(iterable.args[0].value).kfold
            and isinstance(target, (cst.Tuple, cst.List))
            and len(target.elements) == 2
        ):
            self.bind(target.elements[0].value, Value(), None, scope)
            target, value = target.elements[1].value, self._value(iterable.args[0].value)
        if value.kfold and isinstance(target, (cst.Tuple, cst.List)) and len(target.elements) == 2:
            for element, role in zip(target.elements, (TRAIN, TEST)):
                label = f"{role} indices of the `split` here"
                self.bind(
                    element.value,
                    Value(frozenset({role}), Evidence(iterable, label), data=True),
                    None,
                    scope,
                    flow_role=True,
                )
        else:
            self.bind(target, replace(value, kfold=False, obj=None, split_call=None), None, scope)
        self.block(_body(node.body), scope)
        if node.orelse is not None:
            self.block(_body(node.orelse.body), scope)

    def small_statement(self, small, scope: _Scope) -> None:
        if isinstance(small, cst.Assign):
            value = self.eval(small.value, scope)
            for target in small.targets:
                self.bind(target.target, value, small.value, scope)
        elif isinstance(small, cst.AnnAssign) and small.value is not None:
            self.bind(small.target, self.eval(small.value, scope), small.value, scope)
        elif isinstance(small, cst.AugAssign):
            value = self.eval(small.value, scope)
            current = self.eval(small.target, scope)
            merged = _union([current, value])
            merged.roles = current.roles or value.roles
            self.bind(small.target, merged, None, scope)
        elif isinstance(small, (cst.Expr, cst.Return)) and small.value is not None:
            self.eval(small.value, scope)

    # --- binding ------------------------------------------------------------------------------

    def bind(self, target, value: Value, value_node, scope: _Scope, flow_role: bool = False) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            self.bind_many(target, value, value_node, scope)
        elif isinstance(target, cst.StarredElement):
            self.bind(target.value, replace(value, obj=None), None, scope)
        elif isinstance(target, cst.Name):
            self.bind_name(target.value, target, value, value_node, scope, flow_role)
        elif isinstance(target, cst.Attribute):
            key = dotted_name(target)
            base = dotted_name(target.value)
            base_value = scope.lookup(base) if base else None
            if base_value is not None and base_value.data and base_value.obj is None:
                self.assign_into(base, base_value, value, scope)  # `df.col = ...`: a column
            elif key is not None:
                self.bind_name(key, target.attr, value, value_node, scope, flow_role)
        elif isinstance(target, cst.Subscript):
            base_node = _strip_indexers(target.value)
            base = dotted_name(base_node)
            base_value = scope.lookup(base) if base else None
            if base_value is not None:
                self.assign_into(base, base_value, value, scope)

    def bind_many(self, target, value: Value, value_node, scope: _Scope) -> None:
        elements = [e.value for e in target.elements]
        if value.split_call is not None and len(value.split_inputs) * 2 == len(elements):
            for index, element in enumerate(elements):
                source = value.split_inputs[index // 2]
                role = TRAIN if index % 2 == 0 else TEST
                label = f"the {role} part returned by `train_test_split` here"
                part = replace(
                    source,
                    roles=frozenset({role}),
                    role_evidence=Evidence(value.split_call, label),
                    obj=None,
                    one_d=source.one_d,
                    kfold=False,
                    split_call=None,
                    split_inputs=(),
                )
                self.bind(element, part, None, scope, flow_role=True)
            return
        pairwise = (
            isinstance(value_node, (cst.Tuple, cst.List))
            and len(value_node.elements) == len(elements)
            and not any(isinstance(e, cst.StarredElement) for e in value_node.elements)
        )
        if pairwise:  # `X_train, X_test = X[:800], X[800:]`
            for element, source in zip(elements, value_node.elements):
                self.bind(element, self._value(source.value), source.value, scope)
            return
        for element in elements:
            self.bind(element, replace(value, obj=None, one_d=None, split_call=None), None, scope)

    def bind_name(self, key: str, name_node, value: Value, value_node, scope: _Scope, flow_role: bool) -> None:
        leaf = key.rsplit(".", 1)[-1]
        named = roles_of_name(leaf)
        if named and is_bare_role_name(leaf) and not (value.data or value.obj is not None):
            named = frozenset()  # `test = "abc"`, `val = 0.2`: not data
        if value.obj is not None:
            named = frozenset()  # `val_scaler = StandardScaler()` holds no data
        if (
            named
            and flow_role
            and value.roles
            and not (named & value.roles)
            and (named <= HELD_OUT) == (value.roles <= HELD_OUT)
        ):
            flow_role = False  # `X_train, X_valid = train_test_split(...)`: the name says which held-out set
        if named and not flow_role:
            evidence = Evidence(name_node, f"`{leaf}` is named as {_role_text(named)} data")
            if value.roles and value.roles <= named and value.role_evidence is not None:
                evidence = value.role_evidence
            bound = replace(value, roles=named, role_evidence=evidence, data=True)
            if value_node is not None:
                self.maybe_slice_split(value_node, named, scope)
        else:
            bound = value
        scope.bindings[key] = replace(bound, split_call=None, split_inputs=(), kfold=bound.kfold)

    def assign_into(self, key: str, base: Value, value: Value, scope: _Scope) -> None:
        """`df[cols] = scaled`: the frame now carries what the new columns carry."""
        scope.bindings[key] = replace(base, taints=base.taints | value.taints, sources=base.sources | value.sources)

    def maybe_slice_split(self, value_node, named: frozenset[str], scope: _Scope) -> None:
        """`test = data[n:]`, `X_train = X.iloc[:800]`: a manual split of whole data."""
        node = value_node
        sampled = False
        while (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Attribute)
            and node.func.attr.value in _ROW_SUBSET_METHODS
        ):
            # `df.sample(frac=0.8)` and `df.drop(train.index)` choose rows; `df.drop("id", axis=1)` does not.
            method = node.func.attr.value
            sampled = sampled or method in ("sample", "head", "tail") or (method == "drop" and _drops_rows(node))
            node = node.func.value
        if isinstance(node, cst.Attribute) and node.attr.value == "values":
            node = node.value
        if isinstance(node, cst.Subscript):
            node = _strip_indexers(node.value)
        elif not (sampled and isinstance(node, (cst.Name, cst.Attribute))):
            return
        base = self._value(node)
        if base is None or not base.sources:
            return
        if len(base.roles) == 1:
            return  # carving a validation set out of training data is not a split of whole data
        self.record_split(value_node, base)

    def record_split(self, node, value: Value) -> None:
        self.order += 1
        self.result.splits.append(Split(self.order, node, value))
        fits = {fit.id: fit for fit in self.result.fits}
        for taint in value.taints:
            if taint in fits and node not in fits[taint].tainted_splits:
                fits[taint].tainted_splits.append(node)

    # --- expressions --------------------------------------------------------------------------

    def _value(self, node) -> Value:
        return self.result._values.get(node) or Value()

    def eval(self, node, scope: _Scope) -> Value:
        value = self._eval(node, scope)
        self.result._values[node] = value
        return value

    def _eval(self, node, scope: _Scope) -> Value:
        if isinstance(node, cst.Name):
            return self.eval_name(node, scope)
        if isinstance(node, cst.Attribute):
            return self.eval_attribute(node, scope)
        if isinstance(node, cst.Subscript):
            return self.eval_subscript(node, scope)
        if isinstance(node, cst.Call):
            return self.eval_call(node, scope)
        if isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
            self.eval_children(node, scope)
            return Value(string=True)
        if isinstance(node, (cst.Integer, cst.Float, cst.Imaginary, cst.Ellipsis)):
            return Value()
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.BitInvert, cst.Not)):
            # `df[~train_mask]` selects the rows that are *not* training rows: the role is unknown.
            return replace(_union(self.eval_children(node, scope)), roles=frozenset(), role_evidence=None)
        if isinstance(node, (cst.Lambda, cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
            return Value()  # comprehension variables are not bound here; nothing to learn
        return _union(self.eval_children(node, scope))

    def eval_children(self, node, scope: _Scope) -> list[Value]:
        values = []
        for child in children(node):
            kind = _child_kind(type(child))
            if kind == "expression":
                values.append(self.eval(child, scope))
            elif kind == "container":
                values.extend(self.eval_children(child, scope))
        return values

    def eval_name(self, node, scope: _Scope) -> Value:
        bound = scope.lookup(node.value)
        if bound is not None:
            return bound
        roles = roles_of_name(node.value)
        if roles and not is_bare_role_name(node.value):
            value = Value(roles, Evidence(node, f"`{node.value}` is named as {_role_text(roles)} data"), data=True)
        elif node.value in self.names.aliases or node.value in _BUILTINS:
            return Value()
        else:
            value = Value()
        # A name defined out of sight (another file, `%run`, a parameter) is one data set throughout.
        value.sources = frozenset({self.new_source()})
        _root(scope).bindings[node.value] = value
        return value

    def eval_attribute(self, node, scope: _Scope) -> Value:
        key = dotted_name(node)
        if key is not None:
            bound = scope.lookup(key)
            if bound is not None:
                return bound
        base = self.eval(node.value, scope)
        attr = node.attr.value
        if base.obj is not None:
            return Value()
        if attr == "values":
            return replace(base, frame=False, kfold=False, split_call=None)
        if attr in ("loc", "iloc"):
            return replace(base, one_d=None)
        if attr == "T":
            return replace(base, one_d=None, frame=base.frame)
        if attr in _METADATA_ATTRIBUTES:
            return Value()  # `X_test.columns` names columns, not test rows
        value = replace(_union([base]), frame=False)
        roles = roles_of_name(attr)
        if roles and (base.data or not is_bare_role_name(attr)):
            value = replace(
                value,
                roles=roles,
                role_evidence=Evidence(node, f"`{attr}` is named as {_role_text(roles)} data"),
                data=True,
            )
        return value

    def eval_subscript(self, node, scope: _Scope) -> Value:
        base = self.eval(node.value, scope)
        index_values = self.eval_children_of_slices(node, scope)
        value = _union([base, *index_values])
        # `X[test_idx]` takes its role from the index; `X_train[cols]` keeps the frame's role.
        index_roles = frozenset(r for v in index_values for r in v.roles)
        value.roles = base.roles or index_roles
        value.role_evidence = (
            base.role_evidence if base.roles else next((v.role_evidence for v in index_values if v.roles), None)
        )
        value.sources, value.taints = base.sources, base.taints
        value.data = base.data or base.frame
        frame_base = base.frame or (
            isinstance(node.value, cst.Attribute)
            and node.value.attr.value in ("loc", "iloc")
            and self._value(node.value.value).frame
        )
        if not frame_base:
            return value
        one_column = _single_column_index(node, index_values)
        if one_column:
            value.one_d = Evidence(node, f"`{_short(node)}` is a single column (a 1-D Series)")
        else:
            value.frame = True
        return value

    def eval_children_of_slices(self, node, scope: _Scope) -> list[Value]:
        values = []
        for element in node.slice:
            values.extend(self.eval_children(element, scope))
        return values

    def eval_call(self, node, scope: _Scope) -> Value:
        func = node.func
        qualified = self.names.qualified_name(func) if isinstance(func, (cst.Name, cst.Attribute)) else None
        if qualified is not None and isinstance(func, (cst.Name, cst.Attribute)):
            root = (dotted_name(func) or "").split(".")[0]
            if scope.lookup(root) is not None:
                qualified = None  # a local variable shadows the import
        receiver = None
        if isinstance(func, cst.Attribute) and qualified is None:
            receiver = self.eval(func.value, scope)
        elif not isinstance(func, (cst.Name, cst.Attribute)):
            self.eval(func, scope)
        created_before = len(self.result.objects)
        args = [self.eval(arg.value, scope) for arg in node.args]
        positional = [(arg, value) for arg, value in zip(node.args, args) if arg.keyword is None and arg.star == ""]
        if qualified is not None:
            known = self.eval_known_call(node, qualified, positional, args, created_before)
            if known is not None:
                return known
        if receiver is not None:
            method = func.attr.value
            if receiver.obj is not None:
                return self.eval_method(node, method, receiver.obj, positional, args)
            guessed = self.guess_fitted(func.value, method, scope)
            if guessed is not None:
                return self.eval_method(node, method, guessed, positional, args)
            return self.eval_data_method(node, method, receiver, positional, args)
        return self.eval_plain_call(node, func, args, scope)

    def eval_known_call(self, node, qualified: str, positional, args, created_before) -> Value | None:
        leaf = qualified.rsplit(".", 1)[-1]
        if qualified in ("sklearn.model_selection.train_test_split", "sklearn.cross_validation.train_test_split"):
            inputs = tuple(value for _, value in positional)
            for _, value in positional:
                self.record_split(node, value)
            merged = _union(inputs)
            return replace(merged, split_call=node, split_inputs=inputs, data=True)
        kind = _classify(qualified)
        if kind == "transformer" and leaf in ("OneHotEncoder", "OrdinalEncoder") and _explicit_categories(node):
            kind = "stateless"  # the categories are given, not learned from the data
        if kind is not None:
            fitted = Fitted(kind, _DISPLAY_NAMES.get(leaf, leaf), qualified, node)
            if kind == "pipeline":
                steps = self.result.objects[created_before:]
                if steps and all(step.kind in ("transformer", "decomposition", "stateless") for step in steps):
                    fitted.kind = "transformer"
            self.result.objects.append(fitted)
            return Value(obj=fitted)
        if qualified in _READERS:
            source = self.new_source()
            roles = frozenset()
            evidence = None
            first = node.args[0].value if node.args else None
            literal = _file_literal(first)
            if literal is not None:
                roles = roles_of_file(literal.evaluated_value if isinstance(literal.evaluated_value, str) else "")
                if roles:
                    evidence = Evidence(literal, f"read from a file named as {_role_text(roles)} data")
            return Value(roles, evidence, frozenset({source}), frame=qualified.startswith("pandas."), data=True)
        if qualified in _FRAME_MAKERS:
            merged = _union(args)
            if not merged.sources:
                merged.sources = frozenset({self.new_source()})
            return replace(merged, frame=True, data=True)
        if qualified == "pandas.Series":
            merged = _union(args)
            return replace(
                merged,
                one_d=Evidence(node, "`pd.Series(...)` is 1-D"),
                data=True,
                sources=merged.sources or frozenset({self.new_source()}),
            )
        one_d = _numpy_1d(node, qualified)
        if one_d is not None:
            merged = _union(args)
            return replace(
                merged, one_d=Evidence(node, one_d), data=True, sources=merged.sources or frozenset({self.new_source()})
            )
        if qualified.startswith(("numpy.", "pandas.", "sklearn.datasets.", "torch.")):
            merged = _union(args)
            if not merged.sources:
                merged.sources = frozenset({self.new_source()})
            merged.data = True
            return merged
        return None

    def eval_method(self, node, method: str, fitted: Fitted, positional, args) -> Value:
        data_node, data = _first_data_argument(node, positional)
        if method in _SHAPE_METHODS and data is not None and data.one_d is not None and fitted.requires_2d:
            self.result.shape_problems.append(
                ShapeProblem(node, method, fitted, data_node, data.one_d, _column_key(data_node))
            )
        if method in _MODEL_METHODS and fitted.kind in ("estimator", "pipeline"):
            self.mark_consumed(args)
        self.order += 1
        if method in _FIT_METHODS and data is not None:
            event = FitEvent(len(self.result.fits), self.order, node, method, fitted, data_node, data)
            event.conditional = self.conditional > 0
            self.result.fits.append(event)
            fitted.fits.append(event)
            if method == "fit_transform":
                return Value(data.roles, data.role_evidence, data.sources, data.taints | {event.id}, data=True)
            return Value(obj=fitted)
        if method == "split" and fitted.kind == "splitter" and data is not None:
            self.record_split(node, data)
            return Value(kfold=True)
        if method in ("transform", "inverse_transform") and data is not None:
            fitted.uses.append((self.order, node, data))
            taints = frozenset(fit.id for fit in fitted.fits[-1:])
            return Value(data.roles, data.role_evidence, data.sources, data.taints | taints, data=True)
        if method in _PREDICTIONS:
            fitted.uses.append((self.order, node, data or Value()))
            return Value(sources=data.sources if data else frozenset(), data=True)
        if method in ("set_params",):
            return Value(obj=fitted)
        return Value()

    def eval_data_method(self, node, method: str, receiver: Value, positional, args) -> Value:
        if method in _MODEL_METHODS:
            self.mark_consumed(args)
        if method in _PREDICTIONS:
            return Value(sources=_union(args).sources, data=True)
        merged = _union([receiver, *args])
        merged.roles = receiver.roles or merged.roles
        merged.role_evidence = receiver.role_evidence if receiver.roles else merged.role_evidence
        merged.sources, merged.data = receiver.sources | merged.sources, receiver.data or merged.data
        if method in ("ravel", "flatten") and not node.args:
            merged.one_d = Evidence(node, f"`.{method}()` returns a 1-D array")
        elif method == "reshape" and _reshape_1d(node):
            merged.one_d = Evidence(node, f"`{_short(node.func)}({_short(node.args[0].value)})` returns a 1-D array")
        elif method in ("to_numpy", "copy", "astype", "fillna", "dropna") and receiver.one_d is not None:
            merged.one_d = receiver.one_d
        if receiver.frame and method in _FRAME_METHODS:
            merged.frame = True
        return merged

    def eval_plain_call(self, node, func, args, scope: _Scope) -> Value:
        if isinstance(func, cst.Name) and func.value in self.functions and scope.lookup(func.value) is None:
            self.result.calls.append(CallSite(self.functions[func.value], node, list(zip(node.args, args))))
        merged = _union(args)
        name = (
            func.value if isinstance(func, cst.Name) else (func.attr.value if isinstance(func, cst.Attribute) else "")
        )
        if name in ("enumerate", "zip", "list", "iter") and len(args) == 1 and args[0].kfold:
            return args[0]
        if name in ("print", "len", "type", "isinstance", "display", "str", "repr", "range"):
            return Value()
        roles = roles_of_name(name) if name.startswith(("load", "get", "read", "make", "fetch")) else frozenset()
        if roles:
            merged = replace(
                merged, roles=roles, role_evidence=Evidence(func, f"`{name}` loads {_role_text(roles)} data")
            )
        if not merged.sources:
            merged.sources = frozenset({self.new_source()})
        merged.data = True
        return merged

    def guess_fitted(self, receiver_node, method: str, scope: _Scope) -> Fitted | None:
        """An unresolved `scaler.fit_transform(...)`: a transformer by its name alone."""
        if method not in ("fit_transform", "fit", "transform", "partial_fit"):
            return None
        key = dotted_name(receiver_node)
        if key is None:
            return None
        bound = scope.lookup(key)
        if bound is not None and (bound.data or bound.string):
            return None
        words = split_words(key.rsplit(".", 1)[-1])
        if not any(word in _TRANSFORMER_NAME_WORDS for word in words):
            return None
        fitted = Fitted("transformer", "", None, receiver_node)  # class unknown: named by the variable only
        self.result.objects.append(fitted)
        scope.bindings[key] = Value(obj=fitted)
        return fitted

    def mark_consumed(self, args: list[Value]) -> None:
        taints = set().union(*(value.taints for value in args)) if args else set()
        for fit in self.result.fits:
            if fit.id in taints:
                fit.consumed = True

    def new_source(self) -> int:
        self.next_source += 1
        return self.next_source


# Receiver names that mean a fitted transformer when its constructor cannot be seen.
_TRANSFORMER_NAME_WORDS = frozenset(
    {
        "sc",
        "ss",
        "mms",
        "stdsc",
        "scaler",
        "scaller",
        "standardizer",
        "imputer",
        "normalizer",
        "vectorizer",
        "vectoriser",
        "tfidf",
        "pca",
        "encoder",
        "ohe",
        "minmax",
    }
)


_DISPLAY_NAMES = {
    "make_pipeline": "Pipeline",
    "make_union": "FeatureUnion",
    "make_column_transformer": "ColumnTransformer",
}
_BUILTINS = frozenset(
    {
        "True",
        "False",
        "None",
        "self",
        "cls",
        "print",
        "len",
        "range",
        "list",
        "dict",
        "tuple",
        "set",
        "str",
        "int",
        "float",
    }
)


def _root(scope: _Scope) -> _Scope:
    while scope.parent is not None:
        scope = scope.parent
    return scope


_CHILD_KINDS: dict[type, str | None] = {}


def _child_kind(cls: type) -> str | None:
    """ "expression" to evaluate, "container" (an argument, element, slice...) to look into, or None.

    Cached per class: LibCST's node classes are abstract-base subclasses, and `isinstance` on
    them is slow enough to matter on every node of a notebook.
    """
    try:
        return _CHILD_KINDS[cls]
    except KeyError:
        pass
    if cls.__name__ in TRIVIA:
        kind = None
    elif issubclass(cls, cst.BaseExpression):
        kind = "expression"
    elif issubclass(cls, _containers()):
        kind = "container"
    else:
        kind = None
    _CHILD_KINDS[cls] = kind
    return kind


def _containers() -> tuple[type, ...]:
    return (
        cst.Arg,
        cst.Element,
        cst.BaseDictElement,
        cst.SubscriptElement,
        cst.Index,
        cst.Slice,
        cst.StarredElement,
        cst.FormattedStringExpression,
        cst.Comparison,
        cst.ComparisonTarget,
    )


def _classify(qualified: str) -> str | None:
    parts = qualified.split(".")
    leaf = parts[-1]
    if parts[0] == "sklearn":
        module = parts[1] if len(parts) > 2 else ""
        if qualified in ("sklearn.pipeline.make_pipeline", "sklearn.pipeline.make_union"):
            return "pipeline"
        if qualified == "sklearn.compose.make_column_transformer":
            return "transformer"
        if not leaf[:1].isupper():
            return None
        if leaf in _LABEL_ENCODERS:
            return "label"
        if leaf in _STATELESS:
            return "stateless"
        if module == "decomposition":
            return "decomposition"
        if module in _PREPROCESSING_MODULES:
            return "transformer"
        if module == "compose":
            return "transformer" if leaf == "ColumnTransformer" else "estimator"
        if module == "pipeline":
            return "pipeline"
        if module in _UNSUPERVISED_MODULES or leaf in ("NearestNeighbors", "KernelDensity", "LocalOutlierFactor"):
            return "unsupervised"
        if module == "model_selection":
            if leaf in _SPLITTERS:
                return "splitter"
            return "estimator" if leaf.endswith("CV") else None
        if module in _ESTIMATOR_MODULES:
            return "estimator"
        return None
    if parts[0] in _BOOSTING and leaf[:1].isupper() and leaf.endswith(("Classifier", "Regressor", "Ranker")):
        return "estimator"
    if parts[0] == "category_encoders" and leaf[:1].isupper():
        return "transformer"
    return None


def _explicit_categories(node) -> bool:
    for arg in node.args:
        if arg.keyword is not None and arg.keyword.value == "categories":
            return isinstance(arg.value, (cst.List, cst.Tuple, cst.Dict))
    return False


def _numpy_1d(node, qualified: str) -> str | None:
    """A label when a numpy constructor certainly builds a 1-D array."""
    name = qualified.rsplit(".", 1)[-1]
    args = [a for a in node.args if a.keyword is None]
    keywords = {a.keyword.value: a.value for a in node.args if a.keyword is not None}
    if qualified in ("numpy.array", "numpy.asarray") and args:
        first = args[0].value
        if (
            isinstance(first, (cst.List, cst.Tuple))
            and first.elements
            and all(isinstance(e.value, (cst.Integer, cst.Float, cst.UnaryOperation)) for e in first.elements)
        ):
            return f"`{_short(node)}` is a 1-D array"
        return None
    if qualified in ("numpy.arange", "numpy.linspace", "numpy.logspace"):
        return f"`{_short(node)}` is a 1-D array"
    if qualified in ("numpy.random.rand", "numpy.random.randn") and len(args) == 1 and not keywords:
        return f"`{_short(node)}` is a 1-D array"
    if qualified in ("numpy.zeros", "numpy.ones", "numpy.empty", "numpy.full") and args and _is_count(args[0].value):
        return f"`{_short(node)}` is a 1-D array"
    if name in ("normal", "uniform", "randint", "choice", "random", "exponential", "poisson") and qualified.startswith(
        "numpy.random."
    ):
        size = keywords.get("size")
        if size is not None and _is_count(size):
            return f"`{_short(node)}` is a 1-D array"
    return None


def _file_literal(node):
    """The string literal that ends a path: `"test.csv"`, `DIR + "/test.csv"`, `os.path.join(d, "test.csv")`."""
    if isinstance(node, cst.SimpleString):
        return node
    if isinstance(node, cst.BinaryOperation):
        return _file_literal(node.right)
    if (
        isinstance(node, cst.Call)
        and node.args
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "join"
    ):
        return _file_literal(node.args[-1].value)
    return None


def _is_count(node) -> bool:
    """An integer literal or `len(...)`: a shape of one dimension."""
    if isinstance(node, cst.Integer):
        return True
    return isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "len"


def _reshape_1d(node) -> bool:
    args = node.args
    if len(args) != 1 or args[0].keyword is not None or args[0].star:
        return False
    value = args[0].value
    if isinstance(value, cst.UnaryOperation) and isinstance(value.operator, cst.Minus):
        return isinstance(value.expression, cst.Integer) and value.expression.value == "1"
    return _is_count(value)


def _single_column_index(node, index_values) -> bool:
    """`df["c"]`, `df.loc[:, "c"]`, `df.iloc[:, 0]`: one column selected by a scalar key."""
    elements = node.slice
    indexer = (
        node.value.attr.value
        if isinstance(node.value, cst.Attribute) and node.value.attr.value in ("loc", "iloc")
        else None
    )
    if indexer is None:
        if len(elements) != 1 or not isinstance(elements[0].slice, cst.Index):
            return False
        key = elements[0].slice.value
        return isinstance(key, (cst.SimpleString, cst.FormattedString)) or (
            bool(index_values) and index_values[0].string and isinstance(key, cst.Name)
        )
    if (
        len(elements) != 2
        or not isinstance(elements[0].slice, cst.Slice)
        or not isinstance(elements[1].slice, cst.Index)
    ):
        return False
    first = elements[0].slice
    if first.lower is not None or first.upper is not None or first.step is not None:
        return False
    key = elements[1].slice.value
    if indexer == "iloc":
        return isinstance(key, cst.Integer)
    return isinstance(key, cst.SimpleString)


def _column_key(argument) -> Any:
    """The string key of `df["c"]` (or `df["c"].values`) given directly as the argument."""
    node = argument
    if isinstance(node, cst.Attribute) and node.attr.value == "values":
        node = node.value
    if isinstance(node, cst.Subscript) and len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
        key = node.slice[0].slice.value
        indexer = isinstance(node.value, cst.Attribute) and node.value.attr.value in ("loc", "iloc")
        if isinstance(key, cst.SimpleString) and not indexer:
            return key
    return None


def _first_data_argument(node, positional) -> tuple[Any, Value | None]:
    for arg in node.args:
        if arg.keyword is not None and arg.keyword.value in ("X", "raw_documents"):
            return arg.value, None
    if positional:
        arg, value = positional[0]
        return arg.value, value
    return None, None


def _drops_rows(call) -> bool:
    """`df.drop(train.index)`: dropping the rows of another selection."""
    first = call.args[0].value if call.args and call.args[0].keyword is None else None
    return isinstance(first, cst.Attribute) and first.attr.value == "index"


def _strip_indexers(node):
    """`df.loc` -> `df`: the frame under a `.loc`/`.iloc` indexer."""
    if isinstance(node, cst.Attribute) and node.attr.value in ("loc", "iloc", "at", "iat"):
        return node.value
    return node


def _body(block) -> list:
    if isinstance(block, cst.IndentedBlock):
        return list(block.body)
    return [block]


def _parameters(params) -> list:
    found = list(params.posonly_params) + list(params.params) + list(params.kwonly_params)
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            found.append(star)
    return found


def _role_text(roles: frozenset[str]) -> str:
    return " and ".join(sorted(roles))


# --- judging fits ---------------------------------------------------------------------------------


def _judge(result: DataRoles) -> list[Leak]:
    leaks = []
    for fit in result.fits:
        leak = _fit_before_split(result, fit) or _fit_on_held_out(fit) or _fit_on_held_out_by_caller(result, fit)
        if leak is not None:
            leaks.append(leak)
    return leaks


def _fit_on_held_out(fit: FitEvent) -> Leak | None:
    """TL301: fitted on test/validation data, or on data that includes test rows."""
    obj = fit.obj
    if obj.kind not in ("transformer", "decomposition", "pipeline", "estimator"):
        return None
    roles = fit.data.roles
    if not roles or not (roles <= HELD_OUT or TEST in roles):
        return None
    earlier_train = [f for f in obj.fits if f.order < fit.order and f.data.roles == frozenset({TRAIN})]
    if obj.kind == "decomposition" and not earlier_train and not fit.consumed:
        return None  # PCA of the test set for a plot: nothing is scored with it
    if obj.kind in ("estimator", "pipeline") and not _used_after(fit):
        return None  # a last update after the evaluation (`clf.partial_fit(X_test, y_test)`); or a swapped fold
    data_text = _short(fit.data_node)
    which = "test" if TEST in roles else "validation"
    if roles <= HELD_OUT:
        what = f"{which} data `{data_text}`"
    else:
        what = f"data that includes test rows (`{data_text}`)"
    subject = _subject(fit)
    notes = []
    if fit.data.role_evidence is not None:
        notes.append(fit.data.role_evidence)
    if earlier_train:
        train_fit = earlier_train[-1]
        notes.append(Evidence(train_fit.call, "fitted on training data here"))
        message = f"{subject} is fitted again on {what}, after it was fitted on training data: its statistics now come from the {which} set"
    else:
        message = f"{subject} is fitted on {what}: the {which} set leaks into what the model learns"
    fix_node = None
    if fit.method == "fit_transform" and earlier_train and isinstance(fit.call.func, cst.Attribute):
        fix_node = fit.call.func.attr
        help_text = "use `transform` here: the object is already fitted on the training data"
    elif obj.kind == "estimator" or obj.kind == "pipeline":
        help_text = "fit on the training split only; use held-out data only to predict and score"
    else:
        help_text = "fit on the training data, then call `transform` (not `fit_transform`) on held-out data"
    return Leak("TL301", fit, message, notes, help_text, fix_node)


def _fit_on_held_out_by_caller(result: DataRoles, fit: FitEvent) -> Leak | None:
    """TL301 through a helper: `def scale(df): ...fit_transform(df)...` called as `scale(test)`."""
    if fit.obj.kind != "transformer" or fit.data.roles or fit.conditional:
        return None
    for source in sorted(fit.data.sources):
        if source not in result.parameters:
            continue
        function, position, name = result.parameters[source]
        for site in result.calls:
            if site.function is not function:
                continue
            value = _argument(site, position, name)
            if value is None or not value.roles or not (value.roles <= HELD_OUT or TEST in value.roles):
                continue
            which = "test" if TEST in value.roles else "validation"
            message = (
                f"{_subject(fit)} is fitted on `{_short(fit.data_node)}`, which is {which} data when "
                f"`{_short(site.call)}` calls `{function.name.value}`: the {which} set leaks into the fit"
            )
            notes = [Evidence(site.call, f"called with {which} data here")]
            if value.role_evidence is not None:
                notes.append(value.role_evidence)
            help_text = "fit once on the training data outside the helper, and only `transform` inside it"
            return Leak("TL301", fit, message, notes, help_text)
    return None


def _argument(site: CallSite, position: int, name: str) -> Value | None:
    """The value a call passes for a parameter, by keyword or by position."""
    positional = [value for arg, value in site.arguments if arg.keyword is None and not arg.star]
    for arg, value in site.arguments:
        if arg.keyword is not None and arg.keyword.value == name:
            return value
    if any(arg.star for arg, _ in site.arguments):
        return None  # `f(*args)`: positions unknown
    return positional[position] if position < len(positional) else None


def _subject(fit: FitEvent) -> str:
    """ "`scaler` (StandardScaler)", or just "`scaler`" when the class is not known."""
    receiver = f"`{_short(fit.call.func.value)}`" if isinstance(fit.call.func, cst.Attribute) else "the object"
    return f"{receiver} ({fit.obj.class_name})" if fit.obj.class_name else receiver


def _used_after(fit: FitEvent) -> bool:
    """Is the model fitted here then used on anything but training data (before its next fit)?

    Two-fold cross-validation by hand fits on the second half and predicts the first
    (`model.fit(X2, y2).predict(X1)`): a use on training data only is that swap, not a leak.
    """
    later_fits = [f.order for f in fit.obj.fits if f.order > fit.order]
    until = min(later_fits) if later_fits else None
    for order, _call, data in fit.obj.uses:
        if order <= fit.order or (until is not None and order > until):
            continue
        if data.roles != frozenset({TRAIN}):
            return True
    return False


def _fit_before_split(result: DataRoles, fit: FitEvent) -> Leak | None:
    """TL302: a preprocessor fitted on whole data that is split into train and test."""
    if fit.obj.kind in ("estimator", "pipeline"):
        return _model_fit_before_split(result, fit)
    if fit.obj.kind not in ("transformer", "decomposition"):
        return None
    roles = fit.data.roles
    whole = not roles or (TRAIN in roles and TEST in roles)
    # Data read from `train.csv` is all the labelled data there is: when its fitted output is split
    # again, the new test part shaped the fit too.
    if not whole and roles != frozenset({TRAIN}):
        return None
    split_node = fit.tainted_splits[0] if fit.tainted_splits else None
    if split_node is None and whole:
        split_node = _split_then_used(result, fit)
    if split_node is None:
        return None
    data_text = _short(fit.data_node)
    subject = _subject(fit)
    message = (
        f"{subject} is fitted on `{data_text}` before it is split into train and test: "
        "test rows shape the learned statistics"
    )
    notes = [Evidence(split_node, "the data is split into train and test here")]
    help_text = "split first, fit on the training part only, and `transform` the test part (or use a `Pipeline`)"
    return Leak("TL302", fit, message, notes, help_text)


def _model_fit_before_split(result: DataRoles, fit: FitEvent) -> Leak | None:
    """A model fitted on whole data, then scored on the test part of a later split, unrefitted."""
    roles = fit.data.roles
    if roles and not (TRAIN in roles and TEST in roles):
        return None
    splits = [s for s in result.splits if s.order > fit.order and s.value.sources & fit.data.sources]
    if not splits:
        return None
    for order, call, data in fit.obj.uses:
        if order <= splits[0].order or not (data.roles and data.roles <= HELD_OUT):
            continue
        latest = [f for f in fit.obj.fits if f.order < order]
        if latest and latest[-1] is fit and data.sources & fit.data.sources:
            message = (
                f"{_subject(fit)} is fitted on `{_short(fit.data_node)}` before it is split, and then "
                "evaluated on the test part: the test rows were in its training data"
            )
            notes = [
                Evidence(splits[0].node, "the data is split into train and test here"),
                Evidence(call, "evaluated on held-out rows it was fitted on"),
            ]
            return Leak("TL302", fit, message, notes, "fit the model on the training part of the split only")
    return None


def _split_then_used(result: DataRoles, fit: FitEvent) -> Any:
    """A split of the fitted data, and then the fitted object applied to a split part."""
    splits = [s for s in result.splits if s.value.sources & fit.data.sources]
    if not splits:
        return None
    obj = fit.obj
    for order, _call, data in obj.uses:
        if order <= fit.order:
            continue
        latest = [f for f in obj.fits if f.order < order]
        if not latest or latest[-1] is not fit:
            continue
        if data.roles and data.sources & fit.data.sources:
            return splits[0].node
    return None
