"""TL301-TL303 on small programs and notebooks: what fires, what stays silent, messages and fixes."""

import json

import pytest

from torchlint.config import SelectionLayer, load_settings
from torchlint.engine import lint_file
from torchlint.fixes import fix_bytes
from torchlint.testing import lint_snippet

DATA_CODES = ["TL301", "TL302", "TL303"]
HEAD = (
    "import numpy as np\nimport pandas as pd\n"
    "from sklearn.model_selection import train_test_split, KFold, cross_val_score\n"
    "from sklearn.preprocessing import StandardScaler, MinMaxScaler, LabelEncoder\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "from sklearn.pipeline import make_pipeline\n"
)


def codes(source: str, head: str = HEAD) -> list[tuple[int, str]]:
    """(row within `source`, code) of every data-rule finding."""
    offset = head.count("\n")
    found = lint_snippet(head + source, select=DATA_CODES)
    return sorted((d.span.start.row - offset, d.code) for d in found)


def settings():
    return load_settings(None, SelectionLayer(select=DATA_CODES), isolated=True)


# --- TL301 ----------------------------------------------------------------------------------


def test_refit_on_test_has_safe_fix_and_notes():
    source = HEAD + "sc = StandardScaler()\nX_train = sc.fit_transform(X_train)\nX_test = sc.fit_transform(X_test)\n"
    [diagnostic] = lint_snippet(source, select=DATA_CODES)
    assert diagnostic.code == "TL301"
    assert "X_test" in diagnostic.message and "fitted on training data" in diagnostic.message
    assert any("fitted on training data here" == note.message for note in diagnostic.notes)
    assert diagnostic.fix is not None and diagnostic.fix.applicability.value == "safe"
    outcome = fix_bytes(source.encode(), "snippet.py", settings())
    assert outcome.fixed.decode().endswith("X_test = sc.transform(X_test)\n")
    assert not outcome.result.diagnostics


def test_fit_on_test_without_earlier_train_fit_has_no_fix():
    [diagnostic] = lint_snippet(HEAD + "StandardScaler().fit_transform(X_test)\n", select=DATA_CODES)
    assert diagnostic.code == "TL301" and diagnostic.fix is None


@pytest.mark.parametrize(
    "source",
    [
        "s = StandardScaler()\ns.fit(x_val)\n",
        "test_df = pd.read_csv('test.csv')\nMinMaxScaler().fit(test_df)\n",
        "a, b = train_test_split(df)\nStandardScaler().fit(b)\n",
        "for tr, te in KFold(3).split(X):\n    StandardScaler().fit(X[te])\n",
        "StandardScaler().fit(np.vstack([X_train, X_test]))\n",
        "m = LogisticRegression().fit(X_test, y_test)\nprint(m.score(X_test, y_test))\n",
        "def prepare(X_train, X_test):\n    s = StandardScaler()\n    return s.fit_transform(X_train), s.fit_transform(X_test)\n",
    ],
)
def test_fit_on_test_fires(source):
    assert [code for _, code in codes(source)] == ["TL301"]


@pytest.mark.parametrize(
    "source",
    [
        "s = StandardScaler().fit(X_train)\nX_test = s.transform(X_test)\n",
        "LabelEncoder().fit(y_test)\n",
        "latest = load()\nStandardScaler().fit(latest)\n",
        "test = 'minmax'\nStandardScaler().fit(X_train)\n",
        "scores = cross_val_score(make_pipeline(StandardScaler(), LogisticRegression()), X, y)\n",
        "m = LogisticRegression().fit(X_train, y_train, sample_weight=w_test)\nm.score(X_test, y_test)\n",
        "max_val = df.max()\nStandardScaler().fit(max_val)\n",
        "from sklearn.manifold import TSNE\nTSNE(2).fit_transform(X_test)\n",
    ],
)
def test_fit_on_test_traps(source):
    assert codes(source) == []


# --- TL302 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source,row",
    [
        ("X = StandardScaler().fit_transform(X)\nparts = train_test_split(X, y)\n", 1),
        ("sc = StandardScaler()\nsc.fit(X)\nXs = sc.transform(X)\nparts = train_test_split(Xs, y)\n", 2),
        (
            "df = pd.read_csv('d.csv')\ndf[['a']] = MinMaxScaler().fit_transform(df[['a']])\nX = df.drop('t', axis=1).values\nparts = train_test_split(X, df.t)\n",
            2,
        ),
        ("scaled = MinMaxScaler().fit_transform(series)\ntrain = scaled[:100]\ntest = scaled[100:]\n", 1),
        ("Z = StandardScaler().fit_transform(X)\nfor tr, te in KFold(5).split(Z):\n    pass\n", 1),
    ],
)
def test_fit_before_split_fires(source, row):
    assert codes(source) == [(row, "TL302")]


@pytest.mark.parametrize(
    "source",
    [
        "from sklearn.decomposition import PCA\nX2 = PCA(2).fit_transform(X)\nplot(X2)\nparts = train_test_split(X, y)\n",
        "y = LabelEncoder().fit_transform(y)\nparts = train_test_split(X, y)\n",
        "other = StandardScaler().fit_transform(survey)\nparts = train_test_split(X, y)\n",
        "parts = train_test_split(X, y)\nsc = StandardScaler().fit(X_train)\n",
    ],
)
def test_fit_before_split_traps(source):
    assert codes(source) == []


# --- TL303 ----------------------------------------------------------------------------------


def test_single_column_fix():
    source = HEAD + "df = pd.read_csv('a.csv')\nStandardScaler().fit_transform(df['price'])\n"
    [diagnostic] = lint_snippet(source, select=DATA_CODES)
    assert diagnostic.code == "TL303" and diagnostic.fix.applicability.value == "safe"
    outcome = fix_bytes(source.encode(), "snippet.py", settings())
    assert outcome.fixed.decode().endswith("StandardScaler().fit_transform(df[['price']])\n")
    assert not outcome.result.diagnostics


def test_one_dimensional_through_a_variable_has_no_fix_but_a_note():
    source = HEAD + "df = pd.read_csv('a.csv')\nprices = df['price']\nMinMaxScaler().fit(prices)\n"
    [diagnostic] = lint_snippet(source, select=DATA_CODES)
    assert diagnostic.fix is None
    assert diagnostic.notes and "single column" in diagnostic.notes[0].message


@pytest.mark.parametrize(
    "source",
    [
        "df = pd.read_csv('a.csv')\nStandardScaler().fit(df[['price']])\n",
        "x = np.arange(9).reshape(-1, 1)\nStandardScaler().fit(x)\n",
        "df = pd.read_csv('a.csv')\nLabelEncoder().fit(df['label'])\n",
        "d = {'price': [[1.0], [2.0]]}\nStandardScaler().fit(d['price'])\n",
    ],
)
def test_scaler_1d_traps(source):
    assert codes(source) == []


# --- notebooks ------------------------------------------------------------------------------


def notebook(tmp_path, cells) -> str:
    document = {
        "cells": [
            {"cell_type": "code", "execution_count": count, "metadata": {}, "outputs": [], "source": source}
            if kind == "code"
            else {"cell_type": "markdown", "metadata": {}, "source": source}
            for kind, count, source in cells
        ],
        "metadata": {"language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "analysis.ipynb"
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


def found(path):
    return sorted((d.cell, d.span.start.row, d.code) for d in lint_file(path, settings()).diagnostics)


def test_notebook_roles_flow_across_cells_with_magics_and_shell_escapes(tmp_path):
    path = notebook(
        tmp_path,
        [
            ("markdown", None, "# Churn"),
            (
                "code",
                4,
                "%matplotlib inline\n!pip install scikit-learn\nfrom sklearn.model_selection import train_test_split\nfrom sklearn.preprocessing import StandardScaler\n",
            ),
            ("code", None, ""),
            ("code", 2, "first, second = train_test_split(data)\nscaler = StandardScaler()\n"),
            ("code", 7, "%%time\nscaler.fit(first)\n"),
            ("code", 1, "!ls\nout = scaler.fit_transform(second)\n"),
        ],
    )
    assert found(path) == [(6, 2, "TL301")]


def test_notebook_split_in_a_later_cell(tmp_path):
    path = notebook(
        tmp_path,
        [
            (
                "code",
                9,
                "import pandas as pd\nfrom sklearn.preprocessing import MinMaxScaler\ndf = pd.read_csv('d.csv')\n",
            ),
            ("code", 3, "df[['a', 'b']] = MinMaxScaler().fit_transform(df[['a', 'b']])\n"),
            ("markdown", None, "Now split."),
            (
                "code",
                1,
                "from sklearn.model_selection import train_test_split\nX = df.drop('y', axis=1)\nX_train, X_test, y_train, y_test = train_test_split(X, df['y'])\n",
            ),
        ],
    )
    assert found(path) == [(2, 1, "TL302")]


def test_notebook_later_split_of_another_data_set_is_silent(tmp_path):
    path = notebook(
        tmp_path,
        [
            ("code", 1, "import pandas as pd\nfrom sklearn.decomposition import PCA\niris = pd.read_csv('iris.csv')\n"),
            ("code", 2, "coords = PCA(2).fit_transform(iris)\nplot(coords)\n"),
            (
                "code",
                3,
                "from sklearn.model_selection import train_test_split\nhouses = pd.read_csv('houses.csv')\nparts = train_test_split(houses)\n",
            ),
        ],
    )
    assert found(path) == []


def test_notebook_empty_and_magic_only_cells(tmp_path):
    path = notebook(
        tmp_path,
        [
            ("code", None, []),
            ("code", 1, "%load_ext autoreload\n%autoreload 2\n"),
            ("code", 2, "%%bash\necho hi\n"),
            ("code", 3, "StandardScaler?\n"),
        ],
    )
    assert found(path) == []


def test_notebook_one_dimensional_column_fix(tmp_path):
    path = notebook(
        tmp_path,
        [
            (
                "code",
                2,
                "%matplotlib inline\nimport pandas as pd\nfrom sklearn.preprocessing import StandardScaler\ndf = pd.read_csv('a.csv')\n",
            ),
            ("code", 1, "scaled = StandardScaler().fit_transform(df['price'])\n"),
        ],
    )
    assert found(path) == [(2, 1, "TL303")]
    with open(path, "rb") as handle:
        outcome = fix_bytes(handle.read(), path, settings())
    cells = json.loads(outcome.fixed)["cells"]
    assert "".join(cells[1]["source"]) == "scaled = StandardScaler().fit_transform(df[['price']])\n"
    assert "".join(cells[0]["source"]).startswith("%matplotlib inline\n")


# Traps that only static reasoning can judge (a runtime comparison of fitted statistics would call
# them leaks): they live here rather than in the runnable fixtures.


def test_hand_made_two_fold_cross_validation_is_silent():
    source = (
        "X1, X2, y1, y2 = train_test_split(X, y, train_size=0.5)\n"
        "y2_model = model.fit(X1, y1).predict(X2)\n"
        "y1_model = model.fit(X2, y2).predict(X1)\n"
    )
    assert codes("model = LogisticRegression()\n" + source) == []


def test_last_online_update_after_scoring_is_silent():
    source = (
        "clf = LogisticRegression().fit(X_train, y_train)\n"
        "print(clf.score(X_test, y_test))\n"
        "clf = clf.fit(X_test, y_test)\n"
    )
    assert codes(source) == []


def test_training_file_scaled_then_split_again():
    source = (
        "df = pd.read_csv('train.csv')\nX = StandardScaler().fit_transform(df.drop('y', axis=1))\n"
        "X_tr, X_val, y_tr, y_val = train_test_split(X, df['y'])\n"
    )
    assert codes(source) == [(2, "TL302")]


def test_training_split_scaled_is_not_refitted_before_a_split():
    source = (
        "X_train, X_test, y_train, y_test = train_test_split(X, y)\nX_train = StandardScaler().fit_transform(X_train)\n"
    )
    assert codes(source) == []


def test_model_fitted_on_whole_data_then_scored_on_the_split():
    source = (
        "model = LogisticRegression()\nmodel.fit(X, y)\n"
        "X_train, X_test, y_train, y_test = train_test_split(X, y)\nprint(model.score(X_test, y_test))\n"
    )
    assert codes(source) == [(2, "TL302")]
    refit = source.replace("print(", "model.fit(X_train, y_train)\nprint(")
    assert codes(refit) == []


def test_rows_sampled_into_train_and_dropped_into_test():
    source = (
        "df = pd.read_csv('a.csv')\ndf[['a']] = StandardScaler().fit_transform(df[['a']])\n"
        "train = df.sample(frac=0.8)\ntest = df.drop(train.index)\n"
    )
    assert codes(source) == [(2, "TL302")]
    assert (
        codes(
            source.replace("train = df.sample(frac=0.8)\ntest = df.drop(train.index)", "train = df.drop('id', axis=1)")
        )
        == []
    )


def test_short_split_names_and_unresolved_scaler_names():
    # `X_tr`/`X_te` are train/test next to data words; `sc` with `fit_transform` is a transformer
    # even when its constructor is out of sight (another file, a failed cell).
    assert codes("X = sc.fit_transform(X)\nX_tr = X[:80]\nX_te = X[80:]\n") == [(1, "TL302")]
    assert codes("out = sc.fit_transform(X_te)\n") == [(1, "TL301")]
    assert codes("sc = SparkContext()\nsc.fit(X_te)\n") == []


def test_pca_of_test_data_fires_once_a_model_consumes_it():
    head = HEAD + "from sklearn.decomposition import PCA\n"
    plot_only = "X_test_2d = PCA(2).fit_transform(X_test)\nplot(X_test_2d)\n"
    scored = "X_test_2d = PCA(2).fit_transform(X_test)\nprint(clf.score(X_test_2d, y_test))\n"
    assert codes(plot_only, head) == []
    assert codes(scored, head) == [(1, "TL301")]


# A helper that fits is judged at its calls. (Static only: the runtime oracle looks for training
# rows in the helper's own frame, where there are none to compare with.)


def test_helper_that_fits_is_reported_when_called_with_test_data():
    source = (
        "def scale(df):\n    s = StandardScaler()\n    df[['a']] = s.fit_transform(df[['a']])\n    return df\n"
        "train = pd.read_csv('train.csv')\ntest = pd.read_csv('test.csv')\ntrain = scale(train)\ntest = scale(test)\n"
    )
    [diagnostic] = lint_snippet(HEAD + source, select=DATA_CODES)
    assert diagnostic.code == "TL301" and "`scale(test)`" in diagnostic.message
    assert any(note.message == "called with test data here" for note in diagnostic.notes)


@pytest.mark.parametrize(
    "source",
    [
        # fitted only when asked to, and asked only with training data
        "def prep(df, scaler, fit=False):\n    if fit:\n        scaler.fit(df)\n    return scaler.transform(df)\n"
        "s = StandardScaler()\nX_train = prep(X_train, s, fit=True)\nX_test = prep(X_test, s)\n",
        # called with training data only
        "def scale(df):\n    return StandardScaler().fit_transform(df)\nX_train = scale(X_train)\n",
        # a local function of the same name shadows nothing at module level
        "def outer():\n    def scale(df):\n        return StandardScaler().fit_transform(df)\n    return scale(X_test)\n",
    ],
)
def test_helpers_that_stay_silent(source):
    assert codes(source) == []


def test_helper_called_by_keyword():
    source = "def scale(df=None):\n    return StandardScaler().fit_transform(df)\nout = scale(df=X_val)\n"
    assert codes(source) == [(2, "TL301")]


# --- each rule checks every fit; annotations are evidence ------------------------------------

CONCAT_THEN_SLICED = (
    "all_data = pd.concat([X_train, X_test])\n"
    "all_data = StandardScaler().fit_transform(all_data)\n"
    "train = all_data[:100]\ntest = all_data[100:]\n"
)


def test_data_with_test_rows_split_afterwards_is_tl302_when_it_runs():
    assert codes(CONCAT_THEN_SLICED) == [(2, "TL302")]


def test_tl301_still_checks_a_fit_that_tl302_would_claim_when_tl302_is_not_run():
    offset = HEAD.count("\n")
    found = lint_snippet(HEAD + CONCAT_THEN_SLICED, select=["TL301"])
    assert [(d.span.start.row - offset, d.code) for d in found] == [(2, "TL301")]
    assert "includes test rows" in found[0].message


def test_a_fresh_decomposition_fitted_on_test_data_is_a_second_projection():
    source = (
        "from sklearn.decomposition import PCA\n"
        "def features(train_feats, test_feats):\n"
        "    pca = PCA(n_components=8)\n"
        "    a = pca.fit_transform(train_feats)\n"
        "    b = PCA(n_components=8).fit_transform(test_feats)\n"
        "    return a, b\n"
    )
    [diagnostic] = [d for d in lint_snippet(source, select=DATA_CODES)]
    assert (diagnostic.code, diagnostic.span.start.row) == ("TL301", 5)
    assert "another PCA was fitted on training data" in diagnostic.message
    assert [note.span.start.row for note in diagnostic.notes] == [2, 4]


def test_a_decomposition_of_test_data_alone_is_still_a_plot():
    source = "from sklearn.decomposition import PCA\ndef show(test_feats):\n    plot(PCA(2).fit_transform(test_feats))\n"
    assert lint_snippet(source, select=DATA_CODES) == []


def test_a_parameter_annotated_as_a_data_frame_has_columns():
    source = (
        "import pandas as pd\nfrom sklearn.preprocessing import StandardScaler\n"
        "def f(df: pd.DataFrame):\n    return StandardScaler().fit_transform(df['price'])\n"
        "def g(df):\n    return StandardScaler().fit_transform(df['price'])\n"
    )
    [diagnostic] = lint_snippet(source, select=DATA_CODES)
    assert (diagnostic.code, diagnostic.span.start.row) == ("TL303", 4)
    assert diagnostic.fix is not None


def test_a_parameter_annotated_as_a_series_is_1d():
    source = (
        "import pandas as pd\nfrom sklearn.preprocessing import MinMaxScaler\n"
        "def f(prices: pd.Series):\n    return MinMaxScaler().fit(prices)\n"
    )
    [diagnostic] = lint_snippet(source, select=DATA_CODES)
    assert diagnostic.code == "TL303"
    assert [note.message for note in diagnostic.notes] == ["annotated as `pd.Series`, which is 1-D"]
