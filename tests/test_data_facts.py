"""The data-role facts: roles of names and values, fitted objects, fits, splits and 1-D values."""

import libcst as cst
import pytest

from torchlint.facts import ModuleFacts
from torchlint.facts.data import TEST, TRAIN, VALID, Because, DataRoles, Kind
from torchlint.facts.data_words import roles_of_file, roles_of_name, split_words
from torchlint.notebook import load_notebook
from conftest import nodes_in_order


def build(source: str) -> tuple[DataRoles, cst.Module]:
    module = cst.parse_module(source)
    return DataRoles.build(ModuleFacts(module)), module


def names_in(module, name: str) -> list:
    return nodes_in_order(module, cst.Name, lambda node: node.value == name)


def roles_at_last_use(source: str, name: str) -> frozenset:
    """The roles of the last evaluated occurrence of `name` in the source."""
    facts, module = build(source)
    evaluated = [n for n in names_in(module, name) if facts.value_of(n) is not None]
    assert evaluated, f"`{name}` is never evaluated"
    return facts.roles_of(evaluated[-1])


# --- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,roles",
    [
        ("X_test", {TEST}),
        ("test_x", {TEST}),
        ("x_val", {VALID}),
        ("valid_df", {VALID}),
        ("holdout", {TEST}),
        ("hold_out_df", {TEST}),
        ("eval_set", {VALID}),
        ("X_train", {TRAIN}),
        ("trainX", {TRAIN}),
        ("xTest", {TEST}),
        ("Xtest", {TEST}),
        ("ytrain", {TRAIN}),
        ("df_test2", {TEST}),
        ("X_trainval", {TRAIN, VALID}),
        ("train_test", {TRAIN, TEST}),
    ],
)
def test_role_words(name, roles):
    assert roles_of_name(name) == frozenset(roles)


@pytest.mark.parametrize(
    "name",
    [
        "contest",
        "latest",
        "attest",
        "interval",
        "protest",
        "testament",
        "test_size",
        "n_test",
        "val_loss",
        "test_path",
        "test_cols",
        "is_test",
        "y_test_pred",
        "max_val",
        "customer_monetary_val",
        "valid_rows",
        "eval_fn",
        "dev",
        "test_stat",
        "TEST_SIZE",
    ],
)
def test_not_role_words(name):
    assert roles_of_name(name) == frozenset()


def test_split_words_handles_snake_camel_and_digits():
    assert split_words("X_testScaled2") == ["x", "test", "scaled", "2"]
    assert split_words("trainDF") == ["train", "df"]


@pytest.mark.parametrize(
    "path,roles",
    [
        ("test.csv", {TEST}),
        ("../input/test.csv", {TEST}),
        ("data/train_data.csv", {TRAIN}),
        ("latest.csv", set()),
        ("contest/results.csv", set()),
        ("valid.parquet", {VALID}),
    ],
)
def test_file_roles(path, roles):
    assert roles_of_file(path) == frozenset(roles)


# --- flow -----------------------------------------------------------------------------------

SPLIT = "from sklearn.model_selection import train_test_split\n"


def test_train_test_split_outputs_by_position():
    source = SPLIT + "a, b, c, d = train_test_split(X, y)\nuse(a, b, c, d)\n"
    assert roles_at_last_use(source, "a") == {TRAIN}
    assert roles_at_last_use(source, "b") == {TEST}
    assert roles_at_last_use(source, "c") == {TRAIN}
    assert roles_at_last_use(source, "d") == {TEST}


def test_single_array_split():
    source = SPLIT + "first, second = train_test_split(df, test_size=0.2)\nuse(first, second)\n"
    assert roles_at_last_use(source, "first") == {TRAIN}
    assert roles_at_last_use(source, "second") == {TEST}


def test_name_says_which_held_out_set():
    source = SPLIT + "X_train, X_valid = train_test_split(X)\nuse(X_valid)\n"
    assert roles_at_last_use(source, "X_valid") == {VALID}


def test_reader_file_name_gives_the_role():
    source = "import pandas as pd\nsubmission = pd.read_csv('../input/test.csv')\nuse(submission)\n"
    assert roles_at_last_use(source, "submission") == {TEST}


def test_loader_named_for_a_split():
    assert roles_at_last_use("rows = load_test_data()\nuse(rows)\n", "rows") == {TEST}


def test_roles_follow_reassignment():
    source = "data = X_test\nuse(data)\ndata = X_train\nuse(data)\n"
    facts, module = build(source)
    first, second = [n for n in names_in(module, "data") if facts.value_of(n) is not None]
    assert facts.roles_of(first) == {TEST}
    assert facts.roles_of(second) == {TRAIN}


def test_slicing_keeps_role_and_indexing_with_test_indices_gives_it():
    source = "rows = X_test[:10]\nuse(rows)\nfold = X[test_idx]\nuse(fold)\n"
    assert roles_at_last_use(source, "rows") == {TEST}
    assert roles_at_last_use(source, "fold") == {TEST}


def test_kfold_loop_targets():
    source = "from sklearn.model_selection import KFold\nkf = KFold(5)\nfor a, b in kf.split(X):\n    use(a, b)\n"
    assert roles_at_last_use(source, "a") == {TRAIN}
    assert roles_at_last_use(source, "b") == {TEST}
    facts, _ = build(source)
    assert len(facts.splits) == 1


def test_bare_role_word_needs_data():
    assert roles_at_last_use("test = 'abc'\nuse(test)\n", "test") == frozenset()
    assert roles_at_last_use("import pandas as pd\ntest = pd.read_csv('a.csv')\nuse(test)\n", "test") == {TEST}


def test_function_scope_is_separate():
    source = "def one():\n    data = X_test\n    return data\ndef two(data):\n    return data\n"
    facts, module = build(source)
    uses = [n for n in names_in(module, "data") if facts.value_of(n) is not None]
    assert facts.roles_of(uses[0]) == {TEST}
    assert facts.roles_of(uses[1]) == frozenset()


def test_functions_see_module_roles():
    source = SPLIT + "a, b = train_test_split(X)\ndef f():\n    return b\n"
    assert roles_at_last_use(source, "b") == {TEST}


def test_notebook_cells_in_document_order():
    import json

    cells = [
        {
            "cell_type": "code",
            "execution_count": 3,
            "metadata": {},
            "outputs": [],
            "source": ["%matplotlib inline\n", SPLIT, "p, q = train_test_split(X)\n"],
        },
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": []},
        {
            "cell_type": "code",
            "execution_count": 1,
            "metadata": {},
            "outputs": [],
            "source": ["!pip install x\n", "use(q)\n"],
        },
    ]
    notebook = load_notebook(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode())
    assert roles_at_last_use(notebook.text, "q") == {TEST}


# --- fitted objects and fits ----------------------------------------------------------------


@pytest.mark.parametrize(
    "source,kind,class_name",
    [
        ("from sklearn.preprocessing import StandardScaler\ns = StandardScaler()\n", "transformer", "StandardScaler"),
        ("from sklearn import preprocessing\ns = preprocessing.MinMaxScaler()\n", "transformer", "MinMaxScaler"),
        ("from sklearn.preprocessing import MinMaxScaler as MMS\ns = MMS()\n", "transformer", "MinMaxScaler"),
        ("import sklearn.decomposition as dec\ns = dec.PCA(2)\n", "decomposition", "PCA"),
        (
            "from sklearn.pipeline import make_pipeline\nfrom sklearn.preprocessing import StandardScaler\nfrom sklearn.svm import SVC\ns = make_pipeline(StandardScaler(), SVC())\n",
            "pipeline",
            "Pipeline",
        ),
        (
            "from sklearn.pipeline import make_pipeline\nfrom sklearn.preprocessing import StandardScaler\nfrom sklearn.decomposition import PCA\ns = make_pipeline(StandardScaler(), PCA(2))\n",
            "transformer",
            "Pipeline",
        ),
        (
            "from sklearn.compose import ColumnTransformer\ns = ColumnTransformer([])\n",
            "transformer",
            "ColumnTransformer",
        ),
        (
            "from sklearn.ensemble import RandomForestClassifier\ns = RandomForestClassifier()\n",
            "estimator",
            "RandomForestClassifier",
        ),
        ("from sklearn.preprocessing import LabelEncoder\ns = LabelEncoder()\n", "label", "LabelEncoder"),
        (
            "from sklearn.preprocessing import PolynomialFeatures\ns = PolynomialFeatures(2)\n",
            "stateless",
            "PolynomialFeatures",
        ),
        ("from sklearn.cluster import KMeans\ns = KMeans(3)\n", "unsupervised", "KMeans"),
        (
            "from sklearn.preprocessing import OneHotEncoder\ns = OneHotEncoder(categories=[['a', 'b']])\n",
            "stateless",
            "OneHotEncoder",
        ),
    ],
)
def test_fitted_objects_resolved_through_imports(source, kind, class_name):
    facts, _ = build(source)
    fitted = facts.objects[-1]
    assert (fitted.kind, fitted.class_name) == (kind, class_name)


def test_local_class_is_not_a_scaler():
    facts, _ = build("class StandardScaler:\n    pass\ns = StandardScaler()\ns.fit(X_test)\n")
    assert not facts.objects and not facts.fits


def test_fits_record_the_data_role_and_refits_share_the_object():
    source = (
        "from sklearn.preprocessing import StandardScaler\n"
        "sc = StandardScaler()\nsc.fit(X_train)\nsc.fit_transform(X_test)\n"
    )
    facts, _ = build(source)
    assert [fit.data.roles for fit in facts.fits] == [{TRAIN}, {TEST}]
    assert facts.fits[0].obj is facts.fits[1].obj
    assert facts.earlier_fits(facts.fits[1], frozenset({TRAIN})) == [facts.fits[0]]


def test_fit_transform_output_carries_the_fit_into_a_split():
    source = SPLIT + (
        "from sklearn.preprocessing import StandardScaler\n"
        "Z = StandardScaler().fit_transform(X)\nW = Z.copy()\nparts = train_test_split(W, y)\n"
    )
    facts, _ = build(source)
    assert facts.fits[0].tainted_splits
    assert facts.splits_of(facts.fits[0], after=True)


def test_column_assignment_carries_the_fit_into_the_frame():
    source = SPLIT + (
        "import pandas as pd\nfrom sklearn.preprocessing import StandardScaler\n"
        "df = pd.read_csv('a.csv')\ndf[['a']] = StandardScaler().fit_transform(df[['a']])\n"
        "X = df.drop('y', axis=1)\nparts = train_test_split(X, df['y'])\n"
    )
    facts, _ = build(source)
    assert facts.fits[0].tainted_splits


def test_unrelated_data_set_split_is_not_the_fitted_one():
    source = SPLIT + (
        "import pandas as pd\nfrom sklearn.preprocessing import StandardScaler\n"
        "a = pd.read_csv('a.csv')\nb = pd.read_csv('b.csv')\n"
        "sc = StandardScaler().fit(a)\nprint(sc.transform(a))\nparts = train_test_split(b)\n"
    )
    facts, _ = build(source)
    assert not facts.fits[0].tainted_splits and not facts.splits_of(facts.fits[0])
    assert facts.split_then_used(facts.fits[0]) is None


# --- one-dimensional values -----------------------------------------------------------------


@pytest.mark.parametrize(
    "expression,one_d",
    [
        ("df['c']", True),
        ("df[['c']]", False),
        ("df['c'].values", True),
        ("df.loc[:, 'c']", True),
        ("df.iloc[:, 0]", True),
        ("df.iloc[:, [0]]", False),
        ("np.array([1.0, 2.0])", True),
        ("np.array([[1.0], [2.0]])", False),
        ("np.arange(5)", True),
        ("np.zeros(4)", True),
        ("np.zeros((4, 1))", False),
        ("m.reshape(-1)", True),
        ("m.reshape(-1, 1)", False),
        ("m.ravel()", True),
        ("m.flatten()", True),
        ("df['c'].to_frame()", False),
        ("pd.Series([1, 2])", True),
        ("np.random.rand(5)", True),
        ("np.random.rand(5, 1)", False),
    ],
)
def test_one_dimensional_values(expression, one_d):
    source = f"import numpy as np\nimport pandas as pd\ndf = pd.read_csv('a.csv')\nm = np.ones((3, 3))\nresult = {expression}\n"
    facts, module = build(source)
    value = facts.value_of(module.body[-1].body[0].value)
    assert (value.one_d is not None) == one_d


def test_columns_of_test_data_are_not_test_rows():
    source = "cols = X_test.columns\nrows = X_train[cols]\nuse(rows)\n"
    assert roles_at_last_use(source, "rows") == {TRAIN}


# --- annotations, helpers and questions about fits ---------------------------------------------


def test_annotations_are_evidence_of_frames_and_series():
    source = (
        "import pandas as pd\n"
        "def f(df: pd.DataFrame, s: pd.Series, other):\n"
        "    use(df['price'], s, other['price'])\n"
    )
    facts, module = build(source)
    call = module.body[1].body.body[0].body[0].value
    column, series, unknown = (facts.value_of(arg.value) for arg in call.args)
    assert column.one_d is not None and column.one_d.reason is Because.SINGLE_COLUMN
    assert series.one_d is not None and series.one_d.reason is Because.ANNOTATED
    assert unknown.one_d is None


def test_earlier_fits_of_the_same_class_in_the_same_function():
    source = (
        "from sklearn.decomposition import PCA\n"
        "def features(train_feats, test_feats):\n"
        "    pca = PCA(n_components=8)\n"
        "    pca.fit(train_feats)\n"
        "    return PCA(n_components=8).fit_transform(test_feats)\n"
        "def other(test_x):\n"
        "    return PCA(2).fit_transform(test_x)\n"
    )
    facts, _ = build(source)
    first, second, third = facts.fits
    assert first.obj is not second.obj and first.obj.kind is Kind.DECOMPOSITION
    assert facts.earlier_fits(second, frozenset({TRAIN})) == []
    assert facts.earlier_fits(second, frozenset({TRAIN}), same_class=True) == [first]
    assert facts.earlier_fits(third, frozenset({TRAIN}), same_class=True) == []  # another function


def test_callers_of_a_helper_pass_their_values_to_its_fit():
    source = (
        "from sklearn.preprocessing import StandardScaler\n"
        "def scale(df):\n    return StandardScaler().fit_transform(df)\n"
        "scale(X_test)\nscale(df=X_train)\n"
    )
    facts, _ = build(source)
    passed = [value.roles for _site, value in facts.callers_of(facts.fits[0])]
    assert passed == [{TEST}, {TRAIN}]


def test_used_after_ignores_uses_on_training_data_only():
    source = (
        "from sklearn.linear_model import LogisticRegression\n"
        "m = LogisticRegression()\nm.fit(X_val, y_val)\nm.predict(X_train)\n"
        "n = LogisticRegression()\nn.fit(X_val, y_val)\nn.predict(X_test)\n"
    )
    facts, _ = build(source)
    assert [facts.used_after(fit) for fit in facts.fits] == [False, True]


# --- values live on the program model's bindings ---------------------------------------------

SCALER = "from sklearn.preprocessing import StandardScaler\n"


def test_a_method_does_not_see_the_names_of_its_class_body():
    # `scaler` in the method is a global (here: unknown), not the class attribute
    source = SCALER + "class Job:\n    scaler = StandardScaler()\n    def run(self, X):\n        scaler.fit(X)\n"
    facts, _ = build(source)
    (fit,) = facts.fits
    assert fit.obj.class_name == ""  # known only by its name, not as the class body's StandardScaler


def test_a_function_reads_an_enclosing_name_as_it_is_bound_where_the_def_stands():
    source = SCALER + "sc = StandardScaler()\ndef f(X):\n    sc.fit(X)\n"
    facts, _ = build(source)
    (fit,) = facts.fits
    assert fit.obj.class_name == "StandardScaler" and fit.obj is facts.objects[0]


def test_after_a_branch_the_binding_evaluated_last_stands_for_both():
    source = "import pandas as pd\nif c:\n    d = pd.read_csv('test.csv')\nelse:\n    d = pd.read_csv('train.csv')\nuse(d)\n"
    assert roles_at_last_use(source, "d") == {TRAIN}


def test_an_attribute_is_a_slot_of_the_object_its_root_name_holds():
    # `model` is bound again: its `scaler` slot is a new one, so the fit is on an unknown object
    source = SCALER + "model.scaler = StandardScaler()\nmodel = build()\nmodel.scaler.fit(X)\n"
    facts, _ = build(source)
    (fit,) = facts.fits
    assert fit.obj.class_name == ""
    same = SCALER + "model.scaler = StandardScaler()\nmodel.scaler.fit(X)\n"
    facts, _ = build(same)
    assert facts.fits[0].obj.class_name == "StandardScaler"


def test_an_augmented_assignment_changes_the_value_of_the_binding_it_reads():
    source = SCALER + "def f(X_train, extra):\n    Z = X_train\n    Z += extra\n    StandardScaler().fit(Z)\n"
    facts, _ = build(source)
    (fit,) = facts.fits
    assert fit.data.roles == {TRAIN}
