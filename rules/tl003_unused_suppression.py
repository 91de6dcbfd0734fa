from torchlint.diagnostics import Severity
from torchlint.rule import Rule


class UnusedSuppression(Rule):
    """## What it does
    Reports a torchlint suppression comment that suppresses nothing: a `# noqa: TL...` code, a
    `# torchlint: ignore[...]` or a `# torchlint: file-ignore[...]` with no finding of that rule
    where it applies, or a code in it that is not a torchlint rule.

    Codes of other linters in a `# noqa` (`E501`, `B006`) are theirs and never reported, and a
    blanket `# noqa` is not reported either, since it may serve another tool. Codes of rules not
    enabled in this run are not reported, since the rule may be enabled elsewhere.

    ## Why is this bad?
    A stale suppression hides the next real finding on that line. It usually means the code was
    fixed, moved, or the comment names the wrong rule.

    ## Example
    ```python
    x = 1  # noqa: TL101
    ```

    ## Use instead
    ```python
    x = 1
    ```

    ## Fix safety
    No fix yet.

    ## Runtime verification
    Not applicable: this is a fact about comments.

    ## References
    - [Ruff: unused-noqa (RUF100)](https://docs.astral.sh/ruff/rules/unused-noqa/)
    """

    code = "TL003"
    name = "unused-suppression"
    severity = Severity.WARNING
    summary = "A suppression comment suppresses nothing"
