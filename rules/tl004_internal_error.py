from torchlint.diagnostics import Severity
from torchlint.rule import Rule


class InternalError(Rule):
    """## What it does
    Reports that torchlint itself failed on a file: a rule raised an exception, or the worker
    process linting it died (a crash in a native parser, the out-of-memory killer). The other
    rules still ran on that file, and the other files were still checked, but the run exits with
    status 2 so that CI does not mistake it for a clean result.

    ## Why is this bad?
    It is a bug in torchlint, not in your code. Please report it with the file (or a reduced
    version of it) and the message.

    ## Example
    ```python
    # Any file on which a rule crashes.
    ```

    ## Use instead
    ```python
    # Nothing to change in your code; upgrade torchlint or report the bug.
    ```

    ## Fix safety
    No fix.

    ## Runtime verification
    Not applicable.

    ## References
    - [torchlint issues](https://github.com/torchlint/torchlint/issues)
    """

    code = "TL004"
    name = "internal-error"
    severity = Severity.ERROR
    summary = "torchlint failed on this file"
    examples_are_text = False
