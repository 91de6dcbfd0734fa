from torchlint.diagnostics import Severity
from torchlint.rule import Rule


class UnreadableFile(Rule):
    """## What it does
    Reports a file that cannot be read or decoded: bytes that are not valid in the file's
    encoding (UTF-8 unless a PEP 263 coding cookie says otherwise), NUL bytes, invalid notebook
    JSON, a JSON file named `.ipynb` that is no notebook, a dangling symlink, a symlink loop, a
    file that vanished or cannot be opened, or something that is not a regular file (a FIFO, a
    device). Also reports, without analysing it, a file larger than `max-file-size` (2 MB by
    default) or code nested more than 1,000 syntax-tree levels deep.

    ## Why is this bad?
    torchlint cannot check what it cannot read, and Python cannot import it either. Reporting the
    file, instead of skipping it silently, keeps a broken file from hiding in a green CI run.

    ## Example
    ```python
    # A file saved as Latin-1 without a coding cookie: b"name = 'caf\xe9'"
    name = 'café'
    ```

    ## Use instead
    ```python
    # -*- coding: latin-1 -*-
    name = 'café'
    ```

    ## Fix safety
    No fix.

    ## Runtime verification
    Not applicable.

    ## References
    - [PEP 263: Defining Python source code encodings](https://peps.python.org/pep-0263/)
    """

    code = "TL002"
    name = "unreadable-file"
    severity = Severity.ERROR
    summary = "The file cannot be read or decoded"
    examples_are_text = False  # the failure is in bytes, which a text example cannot show
