"""Run the user's Python command with the verify tracer installed: `python -m torchlint.verify.run`.

    python -m torchlint.verify.run --root ROOT --result OUT.json -- pytest tests/ -x
    python -m torchlint.verify.run --root ROOT --result OUT.json -- python train.py --epochs 1

`torchlint verify -- CMD` starts this under its containment supervisor. The command runs in this
interpreter (so it must be a Python program: `python SCRIPT`, `python -m MODULE`, `python -c CODE`,
`pytest ...`, or a console script with a Python shebang): the tracer is installed, the program
runs as `__main__` with its own `sys.argv`, and when it ends (normally, by `sys.exit` or by an
exception) the sites it measured are written to OUT.json. With pytest, the plugin is added so that
each observation carries the test's node id. Subprocesses the program starts, pytest-xdist workers
included, are not traced.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shutil
import sys
import time
import traceback

_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$")


class CommandError(Exception):
    pass


def resolve(command: list[str]) -> tuple[str, str, list[str]]:
    """(how, target, argv): how is `path`, `module` or `code`; argv is the program's `sys.argv`."""
    if not command:
        raise CommandError("no command given after `--`")
    head, rest = command[0], command[1:]
    if _PYTHON.match(os.path.basename(head)):
        if not rest:
            raise CommandError("`python` without a script or `-m MODULE` is interactive: nothing to verify")
        if rest[0] == "-m" and len(rest) > 1:
            return "module", rest[1], [rest[1], *rest[2:]]
        if rest[0] == "-c" and len(rest) > 1:
            return "code", rest[1], ["-c", *rest[2:]]
        if rest[0].startswith("-"):
            raise CommandError(f"interpreter option {rest[0]} is not supported; run `python SCRIPT` or `python -m MODULE`")
        return "path", rest[0], rest
    if head in ("pytest", "py.test"):
        return "module", "pytest", ["pytest", *rest]
    found = head if os.path.sep in head else shutil.which(head)
    if found and os.path.isfile(found):
        try:
            with open(found, "rb") as handle:
                first = handle.readline(200)
        except OSError:
            first = b""
        if first.startswith(b"#!") and b"python" in first:
            return "path", found, [found, *rest]
        if found.endswith(".py"):
            return "path", found, [found, *rest]
    raise CommandError(f"`{head}` is not a Python program (run `python SCRIPT`, `python -m MODULE` or `pytest`)")


def _plugin_autoloads() -> bool:
    """Whether pytest will load our plugin through its `pytest11` entry point by itself."""
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return False
    from importlib.metadata import entry_points

    return any(point.value == "torchlint.verify.pytest_plugin" for point in entry_points(group="pytest11"))


def main(argv: list[str]) -> int:
    if "--" not in argv:
        print("usage: python -m torchlint.verify.run --root ROOT --result OUT.json -- COMMAND...", file=sys.stderr)
        return 2
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1:]
    root = options[options.index("--root") + 1] if "--root" in options else os.getcwd()
    result_path = options[options.index("--result") + 1] if "--result" in options else None
    try:
        how, target, program_argv = resolve(command)
    except CommandError as exc:
        print(f"torchlint verify: {exc}", file=sys.stderr)
        return 2
    from torchlint.verify.session import TraceSession

    if how == "module" and target == "pytest" and not _plugin_autoloads():
        program_argv = [program_argv[0], "-p", "torchlint.verify.pytest_plugin", *program_argv[1:]]
    session = TraceSession(root)
    started = time.perf_counter()
    session.start()
    status: int = 0
    sys.argv = list(program_argv)
    try:
        if how == "module":
            sys.path.insert(0, os.getcwd())
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        elif how == "path":
            sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
            runpy.run_path(target, run_name="__main__")
        else:
            exec(compile(target, "<string>", "exec"), {"__name__": "__main__"})
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    except BaseException as exc:  # the program's own error: shown as Python would, and judged
        traceback.print_exc()
        session.record_raise(exc)
        status = 1
    finally:
        result = session.finish()
        result.update({"exit_status": status, "wall_seconds": round(time.perf_counter() - started, 4),
                       "command": command})
        if result_path:
            with open(result_path, "w", encoding="utf-8") as handle:
                json.dump(result, handle)
    sys.stdout.flush()
    sys.stderr.flush()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
