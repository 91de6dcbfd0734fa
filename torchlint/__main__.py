import os
import sys

# `python -m torchlint` puts the current directory first on sys.path, where the checked project's
# `multiprocessing.py` or `socket.py` would shadow the standard library: torchlint imports nothing from it.
if sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from torchlint.cli import main  # noqa: E402

main()
