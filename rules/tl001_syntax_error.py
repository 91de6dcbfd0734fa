from torchlint.diagnostics import Severity
from torchlint.rule import Rule


class SyntaxError_(Rule):
    """## What it does
    Reports a file that Python cannot parse, at the parser's line and column.

    ## Why is this bad?
    Code that does not parse cannot run, and no other rule can check it: every other finding
    in the file is unknown until the syntax error is fixed. In a notebook, only the cell that
    does not parse is skipped; the other cells are still checked.

    ## Example
    ```python
    def train(model)
        model.train()
    ```

    ## Use instead
    ```python
    def train(model):
        model.train()
    ```

    ## Fix safety
    No fix: the intended code is not known.

    ## Runtime verification
    Not applicable: a file that does not parse is not executed.

    ## References
    - [Python grammar](https://docs.python.org/3/reference/grammar.html)
    """

    code = "TL001"
    name = "syntax-error"
    severity = Severity.ERROR
    summary = "The file cannot be parsed"
