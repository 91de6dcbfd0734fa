from __future__ import annotations

from torchlint.rules._data_wording import subject

from torchlint.diagnostics import Severity
from torchlint.facts.data import HELD_OUT, TEST, TRAIN, DataRoles, FitEvent, Kind
from torchlint.facts.statements import snippet
from torchlint.rule import NodeNote, Rule


class FitBeforeSplit(Rule):
    """## What it does
    Reports a preprocessor (scaler, encoder, imputer, vectorizer, feature selector, `PCA`,
    `ColumnTransformer`, a pipeline of transformers) fitted on data that is afterwards split into
    train and test: by `train_test_split`, a `KFold`-style `split`, or slicing into names for
    train and test (`train = data[:n]`, `test = data[n:]`).

    The data is followed through reassignment, column assignment (`df[cols] =
    scaler.fit_transform(df[cols])`), dropping the target column, `transform` calls of the
    fitted object, and attributes: data stored on `self` in one method (`self.df = ...` in
    `load`) is followed into the other methods of the class when every method that stores that
    attribute stores data of the same role. It also reports a fit on whole data when the fitted
    object is then applied to the split parts, and a model fitted on whole data that is then
    scored on the test part of a later split without being refitted.

    Silent when the fitted output never reaches the split (a `PCA` or `TSNE` for a plot, a topic
    model of all documents), for stateless transformers (`PolynomialFeatures`,
    `FunctionTransformer`), for `LabelEncoder` on the target, for a split of another data set,
    and inside `Pipeline`, `cross_val_score` and `GridSearchCV` (they refit per fold).

    ## Why is this bad?
    The statistics learned before the split (the mean and variance of a scaler, the vocabulary
    and IDF weights of a vectorizer, the features chosen by `SelectKBest` with the labels) come
    from every row, the test rows included. The model is then evaluated on rows that shaped its
    preprocessing, and the reported score is higher than what unseen data will give.

    ## Example
    ```python
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X = StandardScaler().fit_transform(X)
    X_train, X_test, y_train, y_test = train_test_split(X, y)
    ```

    ## Use instead
    ```python
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X_train, X_test, y_train, y_test = train_test_split(X, y)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    ```

    Better still, put the scaler and the model in a `Pipeline`, which also keeps cross-validation
    honest.

    ## Fix safety
    No fix: moving the fit after the split changes the program's order and which variables exist.

    ## Runtime verification
    The runtime mode runs each fixture case and compares the statistics of the flagged fit
    (`mean_`, `scale_`, `components_`, `idf_`...) with those of the same class fitted on the
    training rows of the later split alone: the claim holds when they differ. For a silent trap
    they must be equal, or the fitted output must never reach the split.

    ## References
    - [scikit-learn: common pitfalls, data leakage](https://scikit-learn.org/stable/common_pitfalls.html#data-leakage)
    - [Kapoor and Narayanan, Leakage and the reproducibility crisis in ML-based science](https://reproducible.cs.princeton.edu/)
    """

    code = "TL302"
    name = "fit-before-split"
    severity = Severity.ERROR
    summary = "A preprocessor is fitted on the whole data, which is then split into train and test"
    tokens = ("fit(", "fit_transform(")

    VALID = (
        "from sklearn.model_selection import train_test_split\nfrom sklearn.preprocessing import StandardScaler\nX_train, X_test, y_train, y_test = train_test_split(X, y)\nsc = StandardScaler()\nX_train = sc.fit_transform(X_train)\nX_test = sc.transform(X_test)\n",
        "from sklearn.decomposition import PCA\nfrom sklearn.model_selection import train_test_split\nX_2d = PCA(2).fit_transform(X)\nplot(X_2d)\nX_train, X_test, y_train, y_test = train_test_split(X, y)\n",
        "from sklearn.preprocessing import LabelEncoder\nfrom sklearn.model_selection import train_test_split\ny = LabelEncoder().fit_transform(y)\nX_train, X_test, y_train, y_test = train_test_split(X, y)\n",
        "from sklearn.preprocessing import PolynomialFeatures\nfrom sklearn.model_selection import train_test_split\nX = PolynomialFeatures(2).fit_transform(X)\nX_train, X_test, y_train, y_test = train_test_split(X, y)\n",
    )
    INVALID = (
        "from sklearn.model_selection import train_test_split\nfrom sklearn.preprocessing import MinMaxScaler\nX = MinMaxScaler().fit_transform(X)  # expect: TL302\nX_train, X_test, y_train, y_test = train_test_split(X, y)\n",
        "import pandas as pd\nfrom sklearn.preprocessing import StandardScaler\nfrom sklearn.model_selection import train_test_split\ndf = pd.read_csv('data.csv')\nsc = StandardScaler()\ndf[['a', 'b']] = sc.fit_transform(df[['a', 'b']])  # expect: TL302\nX = df.drop('target', axis=1)\ny = df['target']\nX_train, X_test, y_train, y_test = train_test_split(X, y)\n",
        "from sklearn.preprocessing import StandardScaler\nfrom sklearn.model_selection import train_test_split\nsc = StandardScaler()\nsc.fit(X)  # expect: TL302\nX_train, X_test, y_train, y_test = train_test_split(X, y)\nX_train = sc.transform(X_train)\n",
    )

    def visit_Call(self, node) -> None:
        data = self.facts.get(DataRoles)
        fit = data.fit_at(node)
        if fit is not None:
            finding = judge(data, fit)
            if finding is not None:
                message, notes, help_text = finding
                self.report(fit.call, message, notes=notes, help=help_text)


def judge(data: DataRoles, fit: FitEvent):
    """(message, notes, help) when this fit learns from data that is split afterwards, else None."""
    if fit.obj.kind in (Kind.ESTIMATOR, Kind.PIPELINE):
        return _model_fitted_before_split(data, fit)
    if fit.obj.kind in (Kind.TRANSFORMER, Kind.DECOMPOSITION):
        return _fitted_before_split(data, fit)
    return None


def _fitted_before_split(data: DataRoles, fit: FitEvent):
    """A preprocessor fitted on whole data that is split into train and test."""
    roles = fit.data.roles
    whole = not roles or (TRAIN in roles and TEST in roles)
    # Data read from `train.csv` is all the labelled data there is: when its fitted output is split
    # again, the new test part shaped the fit too.
    if not whole and roles != frozenset({TRAIN}):
        return None
    split_node = fit.tainted_splits[0] if fit.tainted_splits else None
    if split_node is None and whole:
        split_node = data.split_then_used(fit)
    if split_node is None:
        return None
    message = (
        f"{subject(fit)} is fitted on `{snippet(fit.data_node)}` before it is split into train and test: "
        "test rows shape the learned statistics"
    )
    notes = [NodeNote(split_node, "the data is split into train and test here")]
    help_text = "split first, fit on the training part only, and `transform` the test part (or use a `Pipeline`)"
    return message, notes, help_text


def _model_fitted_before_split(data: DataRoles, fit: FitEvent):
    """A model fitted on whole data, then scored on the test part of a later split, unrefitted."""
    roles = fit.data.roles
    if roles and not (TRAIN in roles and TEST in roles):
        return None
    splits = data.splits_of(fit, after=True)
    if not splits:
        return None
    for order, call, used in data.uses_after(fit):
        if order > splits[0].order and used.roles and used.roles <= HELD_OUT and used.sources & fit.data.sources:
            message = (
                f"{subject(fit)} is fitted on `{snippet(fit.data_node)}` before it is split, and then "
                "evaluated on the test part: the test rows were in its training data"
            )
            notes = [
                NodeNote(splits[0].node, "the data is split into train and test here"),
                NodeNote(call, "evaluated on held-out rows it was fitted on"),
            ]
            return message, notes, "fit the model on the training part of the split only"
    return None
