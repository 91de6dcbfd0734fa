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
    Safe: the fix removes the unused code from the comment (`# noqa: TL101, E501` becomes
    `# noqa: E501`), or the whole directive when nothing else is in it (a suppression on its own
    line goes with its line). Comments never change what the program does. Words it does not know,
    such as other linters' codes, are kept, so a fix never leaves a bare `# noqa` behind.

    ## Runtime verification
    Not applicable: this is a fact about comments.

    ## References
    - [Ruff: unused-noqa (RUF100)](https://docs.astral.sh/ruff/rules/unused-noqa/)
    """

    code = "TL003"
    name = "unused-suppression"
    severity = Severity.WARNING
    summary = "A suppression comment suppresses nothing"
