from __future__ import annotations

from torchlint.rules._data_wording import role_note, subject
from torchlint.rules.tl302_fit_before_split import FitBeforeSplit
from torchlint.rules.tl302_fit_before_split import judge as fit_before_split

from torchlint._lazy import lazy_module
from torchlint.diagnostics import Applicability, Severity
from torchlint.facts.data import HELD_OUT, TEST, TRAIN, DataRoles, FitEvent, Kind, is_held_out
from torchlint.facts.statements import snippet
from torchlint.rule import FixSpec, Invalid, NodeNote, Rule

cst = lazy_module("libcst")


class FitOnTestData(Rule):
    """## What it does
    Reports a fitted transformer or estimator — scikit-learn's preprocessing, decomposition,
    feature-extraction, imputation and feature-selection classes, pipelines, and estimators —
    that is fitted (`fit`, `fit_transform`, `partial_fit`) on test or validation data, or on data
    that includes test rows, or refitted on test data after being fitted on training data.

    Which data is test data comes from the data-role facts: the words of the names it flows from
    (`X_test`, `test_x`, `x_val`, `valid_df`, `holdout`; whole words only, so `latest` and
    `contest` are not test data), the outputs of `train_test_split` by position, the test indices
    of a `KFold` split, files named for a split (`pd.read_csv("test.csv")`), and reassignment.
    Objects are recognised from their constructors through imports and aliases. An object or
    data stored on `self` in one method (`self.scaler = StandardScaler()` in `__init__`) is
    followed into the other methods of the class and of its same-module subclasses, when every
    method that stores that attribute stores the same object or data of the same role. A module-level
    helper that fits its parameter unconditionally (`def scale(df): ...fit_transform(df)...`) is
    reported at that fit when a call passes it test data (`scale(test)`).

    Silent for label encoders (`LabelEncoder` on the target), stateless transformers
    (`PolynomialFeatures`, `FunctionTransformer`, `Normalizer`), clustering and manifold methods
    (`KMeans`, `TSNE`), a `PCA` of held-out data whose output no model consumes (a plot), a
    refit on training and validation data together, a model that is not used after its fit on
    held-out data (a last online update after scoring), and hand-made two-fold
    cross-validation (fit on one half, predict the other).

    ## Why is this bad?
    A fitted object learns statistics from the data it is fitted on: a scaler its mean and
    variance, an encoder its categories, a model its weights. Fitted on the test set, those
    statistics come from the rows that are meant to be unseen, so every score computed on them
    is optimistic. Refitting a scaler on the test set (`fit_transform(X_test)` after
    `fit_transform(X_train)`) also scales train and test differently: the model sees test
    features in another unit than the ones it was trained on.

    ## Example
    ```python
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X_train, X_test, y_train, y_test = train_test_split(X, y)
    scaler = StandardScaler()
    X_train = scaler.fit_transform(X_train)
    X_test = scaler.fit_transform(X_test)
    ```

    ## Use instead
    ```python
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X_train, X_test, y_train, y_test = train_test_split(X, y)
    scaler = StandardScaler()
    X_train = scaler.fit_transform(X_train)
    X_test = scaler.transform(X_test)
    ```

    ## Fix safety
    `fit_transform(X_test)` becomes `transform(X_test)` when the same object was fitted on
    training data earlier in the same flow: that is safe, since it keeps the training statistics
    the object already has. When the training fit is in another method (an object stored on
    `self`), the fix is unsafe: that method may not have run yet, and `transform` would then
    raise `NotFittedError`. Other cases have no fix: only you know which training data to fit on.

    ## Runtime verification
    The runtime mode runs each fixture case and compares the fitted statistics of the object
    (`mean_`, `scale_`, `var_`, `min_`, `components_`, `categories_`, `coef_`...) after the flagged
    fit with the statistics of the same class fitted on the training rows alone: the claim holds
    when they differ. For a silent trap they must be equal (or the object learns nothing).

    ## References
    - [scikit-learn: common pitfalls, data leakage](https://scikit-learn.org/stable/common_pitfalls.html#data-leakage)
    - [Yang et al., Data Leakage in Notebooks: Static Detection and Better Processes (ASE 2022)](https://arxiv.org/abs/2209.03345)
    """

    code = "TL301"
    name = "fit-on-test-data"
    severity = Severity.ERROR
    summary = "A preprocessor or estimator is fitted on test or validation data"
    tokens = ("fit(", "fit_transform(")

    VALID = (
        "from sklearn.preprocessing import StandardScaler\nscaler = StandardScaler()\nX_train = scaler.fit_transform(X_train)\nX_test = scaler.transform(X_test)\n",
        "from sklearn.preprocessing import LabelEncoder\nle = LabelEncoder()\ny_test = le.fit_transform(y_test)\n",
        "from sklearn.manifold import TSNE\nemb = TSNE(2).fit_transform(X_test)\n",
        "from sklearn.preprocessing import StandardScaler\nlatest = load()\nStandardScaler().fit(latest)\ncontest_data = load()\nStandardScaler().fit(contest_data)\n",
        "from sklearn.linear_model import LogisticRegression\nimport numpy as np\nclf = LogisticRegression().fit(np.vstack([X_train, X_val]), np.hstack([y_train, y_val]))\n",
        "from xgboost import XGBClassifier\nXGBClassifier().fit(X_train, y_train, eval_set=[(X_test, y_test)])\n",
    )
    INVALID = (
        Invalid(
            "from sklearn.preprocessing import StandardScaler\nsc = StandardScaler()\nX_train = sc.fit_transform(X_train)\nX_test = sc.fit_transform(X_test)  # expect: TL301\n",
            fixed="from sklearn.preprocessing import StandardScaler\nsc = StandardScaler()\nX_train = sc.fit_transform(X_train)\nX_test = sc.transform(X_test)\n",
        ),
        "from sklearn.preprocessing import MinMaxScaler as MMS\nfrom sklearn.model_selection import train_test_split\na, b, c, d = train_test_split(X, y)\nMMS().fit(b)  # expect: TL301\n",
        "from sklearn import preprocessing\nimport pandas as pd\nsub = pd.read_csv('data/test.csv')\nsub = preprocessing.StandardScaler().fit_transform(sub)  # expect: TL301\n",
        "from sklearn.ensemble import RandomForestClassifier\nmodel = RandomForestClassifier()\nmodel.fit(X_val, y_val)  # expect: TL301\nprint(model.score(X_test, y_test))\n",
    )

    def visit_Call(self, node) -> None:
        data = self.facts.get(DataRoles)
        fit = data.fit_at(node)
        if fit is None:
            return
        # Precedence: data with test rows in it that is then split (`pd.concat([train, test])`
        # scaled, then sliced back) is TL302's more precise finding, when TL302 runs.
        if FitBeforeSplit.code in self.context.enabled_codes and fit_before_split(data, fit) is not None:
            return
        finding = _fitted_on_held_out(data, fit) or _fitted_on_held_out_by_caller(data, fit)
        if finding is not None:
            message, notes, help_text, fix = finding
            self.report(fit.call, message, notes=notes, help=help_text, fix=fix)


def _fitted_on_held_out(data: DataRoles, fit: FitEvent):
    """Fitted on test/validation data, or on data that includes test rows."""
    obj = fit.obj
    if obj.kind not in (Kind.TRANSFORMER, Kind.DECOMPOSITION, Kind.PIPELINE, Kind.ESTIMATOR):
        return None
    roles = fit.data.roles
    if not is_held_out(roles):
        return None
    earlier_train = data.earlier_fits(fit, frozenset({TRAIN}))
    # A fresh decomposition fitted on the test set, after one of the same class was fitted on the
    # training set, projects the two sets differently: the same leak, with two objects.
    twin = [] if earlier_train or obj.kind != Kind.DECOMPOSITION else data.earlier_fits(fit, frozenset({TRAIN}), same_class=True)
    if obj.kind == Kind.DECOMPOSITION and not earlier_train and not twin and not fit.consumed:
        return None  # PCA of the test set for a plot: nothing is scored with it
    if obj.kind in (Kind.ESTIMATOR, Kind.PIPELINE) and not data.used_after(fit):
        return None  # a last update after the evaluation (`clf.partial_fit(X_test, y_test)`); or a swapped fold
    data_text = snippet(fit.data_node)
    which = "test" if TEST in roles else "validation"
    what = f"{which} data `{data_text}`" if roles <= HELD_OUT else f"data that includes test rows (`{data_text}`)"
    who = subject(fit)
    notes = []
    if fit.data.role_evidence is not None:
        notes.append(role_note(fit.data.role_evidence))
    if earlier_train:
        notes.append(NodeNote(earlier_train[-1].call, "fitted on training data here"))
        message = f"{who} is fitted again on {what}, after it was fitted on training data: its statistics now come from the {which} set"
    elif twin:
        notes.append(NodeNote(twin[-1].call, f"another {obj.class_name} is fitted on training data here"))
        message = (
            f"{who} is fitted on {what}, while another {obj.class_name} was fitted on training data: "
            f"the {which} set is projected by a fit of its own"
        )
    else:
        message = f"{who} is fitted on {what}: the {which} set leaks into what the model learns"
    fix = None
    if fit.method == "fit_transform" and earlier_train and isinstance(fit.call.func, cst.Attribute):
        # In another method, the training fit may not have run yet when this one runs.
        same_flow = earlier_train[-1].function is fit.function
        fix = FixSpec(
            "Use `transform` (keep the training statistics)",
            Applicability.SAFE if same_flow else Applicability.UNSAFE,
            replacements=((fit.call.func.attr, cst.Name("transform")),),
        )
        if same_flow:
            help_text = "use `transform` here: the object is already fitted on the training data"
        else:
            method = earlier_train[-1].function.name.value if earlier_train[-1].function is not None else "the module"
            help_text = f"use `transform` here, once the object is fitted on the training data (in `{method}`)"
    elif twin:
        help_text = "fit one object on the training data and `transform` the held-out data with it"
    elif obj.kind in (Kind.ESTIMATOR, Kind.PIPELINE):
        help_text = "fit on the training split only; use held-out data only to predict and score"
    else:
        help_text = "fit on the training data, then call `transform` (not `fit_transform`) on held-out data"
    return message, notes, help_text, fix


def _fitted_on_held_out_by_caller(data: DataRoles, fit: FitEvent):
    """Through a helper: `def scale(df): ...fit_transform(df)...` called as `scale(test)`."""
    if fit.obj.kind != Kind.TRANSFORMER or fit.data.roles or fit.conditional:
        return None
    for site, value in data.callers_of(fit):
        if not is_held_out(value.roles):
            continue
        which = "test" if TEST in value.roles else "validation"
        message = (
            f"{subject(fit)} is fitted on `{snippet(fit.data_node)}`, which is {which} data when "
            f"`{snippet(site.call)}` calls `{site.function.name.value}`: the {which} set leaks into the fit"
        )
        notes = [NodeNote(site.call, f"called with {which} data here")]
        if value.role_evidence is not None:
            notes.append(role_note(value.role_evidence))
        help_text = "fit once on the training data outside the helper, and only `transform` inside it"
        return message, notes, help_text, None
    return None
