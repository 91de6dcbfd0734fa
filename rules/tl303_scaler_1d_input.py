from __future__ import annotations

from torchlint._lazy import lazy_module
from torchlint.diagnostics import Applicability, Severity
from torchlint.facts.data import Because, DataRoles, Evidence
from torchlint.facts.statements import snippet
from torchlint.rule import FixSpec, Invalid, NodeNote, Rule

cst = lazy_module("libcst")


class Scaler1dInput(Rule):
    """## What it does
    Reports a 1-D value passed to `fit`, `transform`, `fit_transform`, `inverse_transform` or
    `partial_fit` of a scikit-learn transformer that requires a 2-D `[n_samples, n_features]`
    array (scalers, encoders, imputers, `PCA`, feature selectors): a single-bracket DataFrame
    column (`df["price"]`, `df.loc[:, "price"]`, `df.iloc[:, 0]`), `.values` of one, a 1-D numpy
    construction (`np.array([1, 2, 3])`, `np.arange(n)`, `np.random.rand(n)`), or the result of
    `.reshape(-1)`, `.ravel()` or `.flatten()`, also through a variable, or through an attribute
    stored on `self` in another method (`self.df = pd.read_csv(...)` in `load`, `self.df["price"]`
    in `prep`) when every method that stores that attribute stores a frame. Annotations are
    evidence: a parameter or a variable annotated `pd.Series` is 1-D, and one annotated
    `pd.DataFrame` has columns (also `Optional[...]`, `... | None`, or in quotes).

    Silent for `df[["price"]]`, `.reshape(-1, 1)`, `.to_frame()`, 2-D arrays, and for the classes
    that take 1-D input on purpose (`LabelEncoder`, text vectorizers, `FunctionTransformer`).

    ## Why is this bad?
    scikit-learn refuses 1-D input to these methods with `ValueError: Expected 2D array, got 1D
    array instead` (or "Expected a 2-dimensional container" for a Series), at run time, often after a long load or at the end of a notebook. The fix is
    mechanical: one feature is one column of a 2-D array.

    ## Example
    ```python
    import pandas as pd
    from sklearn.preprocessing import StandardScaler

    df = pd.read_csv("houses.csv")
    df["price_scaled"] = StandardScaler().fit_transform(df["price"])
    ```

    ## Use instead
    ```python
    import pandas as pd
    from sklearn.preprocessing import StandardScaler

    df = pd.read_csv("houses.csv")
    df["price_scaled"] = StandardScaler().fit_transform(df[["price"]])
    ```

    For a numpy array, use `values.reshape(-1, 1)`.

    ## Fix safety
    `df["c"]` given directly to the method becomes `df[["c"]]`: a one-column DataFrame, which is
    exactly the 2-D input the method expects, so the fix is safe. Other cases have no fix.

    ## Runtime verification
    The runtime mode runs each fixture case: the claim holds when the flagged call raises
    `ValueError` with "Expected 2D array" (numpy input) or "Expected a 2-dimensional container"
    (a pandas Series); a silent trap must run without that error.

    ## References
    - [scikit-learn glossary: X, `n_samples`, `n_features`](https://scikit-learn.org/stable/glossary.html#term-X)
    - [pandas: selecting one column as a DataFrame](https://pandas.pydata.org/docs/user_guide/indexing.html#basics)
    """

    code = "TL303"
    name = "scaler-1d-input"
    severity = Severity.ERROR
    summary = "A 1-D array or a single column is passed where [n_samples, n_features] is expected"
    tokens = ("fit(", "fit_transform(", "sklearn", "scaler", "Scaler")

    VALID = (
        "import pandas as pd\nfrom sklearn.preprocessing import StandardScaler\ndf = pd.read_csv('a.csv')\nStandardScaler().fit_transform(df[['price']])\n",
        "import numpy as np\nfrom sklearn.preprocessing import MinMaxScaler\nx = np.arange(10).reshape(-1, 1)\nMinMaxScaler().fit(x)\n",
        "import pandas as pd\nfrom sklearn.preprocessing import LabelEncoder\ndf = pd.read_csv('a.csv')\nLabelEncoder().fit_transform(df['label'])\n",
        "import pandas as pd\nfrom sklearn.feature_extraction.text import TfidfVectorizer\ndf = pd.read_csv('a.csv')\nTfidfVectorizer().fit_transform(df['text'])\n",
        "import pandas as pd\nfrom sklearn.preprocessing import StandardScaler\ndf = pd.read_csv('a.csv')\nStandardScaler().fit(df['price'].to_frame())\n",
    )
    INVALID = (
        Invalid(
            "import pandas as pd\nfrom sklearn.preprocessing import StandardScaler\ndf = pd.read_csv('a.csv')\nStandardScaler().fit_transform(df['price'])  # expect: TL303\n",
            fixed="import pandas as pd\nfrom sklearn.preprocessing import StandardScaler\ndf = pd.read_csv('a.csv')\nStandardScaler().fit_transform(df[['price']])\n",
        ),
        "import numpy as np\nfrom sklearn.preprocessing import MinMaxScaler\nx = np.random.rand(10, 1).ravel()\nMinMaxScaler().fit(x)  # expect: TL303\n",
        "import numpy as np\nfrom sklearn import preprocessing\nscaler = preprocessing.StandardScaler()\nscaler.fit(np.array([1.0, 2.0, 3.0]))  # expect: TL303\n",
    )

    def visit_Call(self, node) -> None:
        given = self.facts.get(DataRoles).one_d_input_at(node)
        if given is not None and given.obj.requires_2d:
            fix = None
            if given.column_key is not None:
                key = given.column_key
                fix = FixSpec(
                    "Select a one-column DataFrame (`[[...]]`)",
                    Applicability.SAFE,
                    replacements=((key, cst.List([cst.Element(key)])),),
                )
            message = (
                f"`{given.method}` of {given.obj.class_name} gets a 1-D value: it requires "
                "`[n_samples, n_features]` and raises `ValueError` on 1-D input"
            )
            label = _why_1d(given.evidence)
            notes = [NodeNote(given.evidence.node, label)]
            if given.evidence.node is given.argument:
                # `df["c"]` is its own evidence: say it in the message rather than in a note on itself.
                message, notes = f"{message}: {label}", []
            help_text = 'select `df[["col"]]` or reshape with `.reshape(-1, 1)`'
            self.report(given.argument, message, notes=notes, help=help_text, fix=fix)


def _why_1d(evidence: Evidence) -> str:
    node = evidence.node
    if evidence.reason is Because.SINGLE_COLUMN:
        return f"`{snippet(node)}` is a single column (a 1-D Series)"
    if evidence.reason is Because.SERIES:
        return "`pd.Series(...)` is 1-D"
    if evidence.reason is Because.FLATTENED:
        return f"`.{evidence.name}()` returns a 1-D array"
    if evidence.reason is Because.RESHAPED_1D:
        return f"`{snippet(node.func)}({snippet(node.args[0].value)})` returns a 1-D array"
    if evidence.reason is Because.ANNOTATED:
        return f"annotated as `{snippet(node)}`, which is 1-D"
    return f"`{snippet(node)}` is a 1-D array"
