"""Data words: which names, files and library classes say what a value of a data program is.

Knowledge only, no analysis: the words of a name that say which split it holds (`X_test`,
`valid_df`, `holdout`; whole words, so `latest` and `contest` are nothing), the words that make
a name about a split rather than its data (`test_size`, `val_loss`), the readers, splitters and
scikit-learn classes the data facts recognise, and what kind of fitted object each class is.
"""

from __future__ import annotations

import enum
import re


class Role(str, enum.Enum):
    """Which part of the data a value holds."""

    TRAIN = "train"
    TEST = "test"
    VALID = "validation"


class Kind(str, enum.Enum):
    """What a fitted object is, as far as leakage and shapes are concerned."""

    TRANSFORMER = "transformer"
    DECOMPOSITION = "decomposition"
    PIPELINE = "pipeline"
    ESTIMATOR = "estimator"
    STATELESS = "stateless"  # learns nothing from the data (`PolynomialFeatures`)
    LABEL = "label"  # encodes the target (`LabelEncoder`)
    UNSUPERVISED = "unsupervised"  # clustering, manifolds (`KMeans`, `TSNE`)
    SPLITTER = "splitter"  # `KFold` and friends


TRAIN, TEST, VALID = Role.TRAIN, Role.TEST, Role.VALID
HELD_OUT = frozenset({TEST, VALID})

# Whole words of a name that say which split it holds.
ROLE_WORDS = {
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
META_WORDS = frozenset(
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
AMBIGUOUS_ROLE_WORDS = frozenset({"val", "valid", "eval", "evaluation", "dev", "tr", "te"})
DATA_WORDS = frozenset(
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
READERS = frozenset(
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
FRAME_MAKERS = frozenset({"pandas.DataFrame", "pandas.concat", "pandas.get_dummies", "pandas.merge"})
SPLITTERS = frozenset(
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
LABEL_ENCODERS = frozenset({"LabelEncoder", "LabelBinarizer", "MultiLabelBinarizer"})
# Transformers that learn nothing from the data they are fitted on.
STATELESS = frozenset(
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
ACCEPTS_1D = frozenset(
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
PREPROCESSING_MODULES = frozenset(
    {
        "preprocessing",
        "impute",
        "feature_selection",
        "feature_extraction",
        "kernel_approximation",
        "random_projection",
    }
)
UNSUPERVISED_MODULES = frozenset({"cluster", "manifold", "mixture", "covariance"})
ESTIMATOR_MODULES = frozenset(
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
BOOSTING = ("xgboost", "lightgbm", "catboost")
# Method calls that hand data to a model: a fit whose output reaches one of them was consumed.
MODEL_METHODS = frozenset(
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
PREDICTIONS = frozenset(
    {
        "predict",
        "predict_proba",
        "predict_log_proba",
        "decision_function",
        "score",
        "evaluate",
    }
)
FIT_METHODS = frozenset({"fit", "fit_transform", "partial_fit"})
SHAPE_METHODS = frozenset({"fit", "fit_transform", "transform", "inverse_transform", "partial_fit"})
# DataFrame methods that return a DataFrame of the same rows (or a subset).
FRAME_METHODS = frozenset(
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
METADATA_ATTRIBUTES = frozenset({"columns", "shape", "dtypes", "dtype", "size", "ndim", "name", "names", "nbytes"})
# Derivations that keep the same rows, for spotting `test = data[n:]`-style splits.
ROW_SUBSET_METHODS = frozenset({"copy", "reset_index", "head", "tail", "sample", "drop", "to_numpy", "astype"})


def split_words(name: str) -> list[str]:
    """`X_testScaled2` -> ["x", "test", "scaled", "2"]: snake_case, camelCase and digits."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"([A-Za-z])([0-9])", r"\1 \2", spaced)
    words = []
    for word in re.split(r"[^A-Za-z0-9]+", spaced):
        word = word.lower()
        glued = GLUED.fullmatch(word)  # `Xtest`, `ytrain`: one word in the handbook's style
        words.extend(glued.groups() if glued else [word] if word else [])
    return words


GLUED = re.compile(r"([xy])(train|test|val|valid|trn|tst)")


def roles_of_name(name: str) -> frozenset[str]:
    """The split a name is about, by whole words; empty for `contest`, `test_size`, `latest`."""
    words = split_words(name)
    if not words or any(w in META_WORDS for w in words):
        return frozenset()
    found = set()
    others = [w for w in words if w not in ROLE_WORDS]
    ambiguous_ok = all(w in DATA_WORDS or w.isdigit() or len(w) == 1 for w in others)
    for index, word in enumerate(words):
        if word in AMBIGUOUS_ROLE_WORDS and not ambiguous_ok:
            continue
        if word == "hold" and index + 1 < len(words) and words[index + 1] == "out":
            found.add(TEST)
        found.update(ROLE_WORDS.get(word, ()))
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



# Receiver names that mean a fitted transformer when its constructor cannot be seen.
TRANSFORMER_NAME_WORDS = frozenset(
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


DISPLAY_NAMES = {
    "make_pipeline": "Pipeline",
    "make_union": "FeatureUnion",
    "make_column_transformer": "ColumnTransformer",
}
BUILTINS = frozenset(
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


def classify(qualified: str) -> Kind | None:
    """The kind of object a qualified constructor builds, or None for anything else."""
    parts = qualified.split(".")
    leaf = parts[-1]
    if parts[0] == "sklearn":
        module = parts[1] if len(parts) > 2 else ""
        if qualified in ("sklearn.pipeline.make_pipeline", "sklearn.pipeline.make_union"):
            return Kind.PIPELINE
        if qualified == "sklearn.compose.make_column_transformer":
            return Kind.TRANSFORMER
        if not leaf[:1].isupper():
            return None
        if leaf in LABEL_ENCODERS:
            return Kind.LABEL
        if leaf in STATELESS:
            return Kind.STATELESS
        if module == "decomposition":
            return Kind.DECOMPOSITION
        if module in PREPROCESSING_MODULES:
            return Kind.TRANSFORMER
        if module == "compose":
            return Kind.TRANSFORMER if leaf == "ColumnTransformer" else Kind.ESTIMATOR
        if module == "pipeline":
            return Kind.PIPELINE
        if module in UNSUPERVISED_MODULES or leaf in ("NearestNeighbors", "KernelDensity", "LocalOutlierFactor"):
            return Kind.UNSUPERVISED
        if module == "model_selection":
            if leaf in SPLITTERS:
                return Kind.SPLITTER
            return Kind.ESTIMATOR if leaf.endswith("CV") else None
        if module in ESTIMATOR_MODULES:
            return Kind.ESTIMATOR
        return None
    if parts[0] in BOOSTING and leaf[:1].isupper() and leaf.endswith(("Classifier", "Regressor", "Ranker")):
        return Kind.ESTIMATOR
    if parts[0] == "category_encoders" and leaf[:1].isupper():
        return Kind.TRANSFORMER
    return None
