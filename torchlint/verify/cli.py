"""`torchlint verify`: check claims at run time, on fixture programs or on the user's own command.

Exit codes: 0 nothing disagrees, 1 something does (a refuted claim, a harmful trap, a crash no
claim predicts, a timeout; with --strict a claim not exercised), 2 usage error (bad path, cuda
requested without CUDA, torch not installed, a command that is not a Python program).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading

import click

from torchlint.output import use_color

EXIT_AGREE, EXIT_DISAGREE, EXIT_USAGE = 0, 1, 2


def _fail(message: str):
    click.echo(f"torchlint: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


def cuda_available() -> bool:
    """Ask a fresh interpreter, so that this process never imports torch."""
    probe = "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 3)"
    try:
        return subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _devices(device: str):
    if device == "cpu":
        return ("cpu",)
    if not cuda_available():
        _fail(f"--device {device} needs CUDA, but torch.cuda.is_available() is False on this machine")
    return ("cuda",) if device == "cuda" else ("cpu", "cuda")


class _VerifyCommand(click.Command):
    """Everything after `--` is the user's command, kept verbatim (click would read it as PATHS)."""

    def parse_args(self, ctx, args):
        if "--" in args:
            split = args.index("--")
            ctx.meta["torchlint_command"] = args[split + 1:]
            args = args[:split]
        return super().parse_args(ctx, args)


@click.command(cls=_VerifyCommand)
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "all"]), default="auto", show_default=True,
              help="Where tensor cases run; auto is cpu plus cuda when torch.cuda.is_available().")
@click.option("--output-format", type=click.Choice(["full", "json"]), default="full", show_default=True)
@click.option("--timeout", type=click.FloatRange(min=1), default=None,
              help="Seconds allowed per fixture module [default: 120], or for the whole command [default: none].")
@click.option("--memory-limit", "memory_mb", type=click.IntRange(min=256), default=None,
              help="Memory cap in MiB for a fixture module's process tree [default: 4096], or for the "
                   "command's [default: none]: resident memory of the process and all its descendants together.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=min(4, os.cpu_count() or 1), show_default=True,
              help="Modules verified in parallel.")
@click.option("--claims", type=click.Choice(["all", "static", "markers"]), default="all", show_default=True,
              help="Fixtures: what counts as a claim: static findings, `# expect:` markers, or both.")
@click.option("--strict", is_flag=True, help="A claim that was not exercised fails the run too.")
@click.option("--root", type=click.Path(exists=True, file_okay=False, path_type=str), default=None,
              help="With `-- COMMAND`: the project root [default: the current directory]. Only frames of files "
                   "under it are attributed; its findings are the claims.")
@click.option("--overhead", is_flag=True,
              help="With `-- COMMAND`: run the command once more without the tracer and print the ratio.")
@click.option("--color/--no-color", default=None, help="Colour output [default: on a terminal, unless NO_COLOR].")
@click.pass_context
def verify(ctx, paths, device, output_format, timeout, memory_mb, jobs, claims, strict, root, overhead, color) -> None:
    """Check torchlint's findings at run time, on fixtures or on your own tests or program.

    \b
    torchlint verify [PATHS]          fixture mode (default: the bundled rule fixtures)
    torchlint verify -- pytest tests/ your tests, traced (or: pytest --torchlint-verify)
    torchlint verify -- python train.py --epochs 1

    Fixture mode runs only files that define `case_*()` functions (their module body, then each
    case); the module bodies of other files are never executed. With `-- COMMAND`, only that command
    runs, in this interpreter's Python, under the tracer; its subprocesses (pytest-xdist workers
    included) are not traced. Each finding ends confirmed, refuted or not exercised; calls that
    cost memory with no finding are listed as runtime-only. Exit 1 for a refuted claim, a harmful
    trap or an error (and, with --strict, a claim not exercised); 2 for usage errors.
    """
    command = ctx.meta.get("torchlint_command")
    if importlib.util.find_spec("torch") is None:
        _fail("torch is not installed; install the extra: pip install 'torchlint[verify]'")
    if command is not None:
        if paths:
            _fail("give either fixture PATHS or `-- COMMAND`, not both")
        from torchlint.verify.command import run_command

        status = run_command(command, root or os.getcwd(), output_format=output_format, color=use_color(color),
                             strict=strict, timeout=timeout, memory_mb=memory_mb, overhead=overhead)
        sys.exit(status)
    from torchlint.verify.report import render_json, render_table
    from torchlint.verify.runner import Options, bundled_fixtures, discover, split_fixtures, verify_files

    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        _fail(f"path does not exist: {missing[0]}")
    base = None
    if not paths:
        base = bundled_fixtures()
        if base is None:
            _fail("the bundled fixtures are missing from this installation")
        paths = (base,)
    files, skipped = split_fixtures(discover(list(paths)))
    if not files:
        hint = f" ({len(skipped)} Python files without one were not run)" if skipped else ""
        _fail(f"no fixture modules (files that define `case_*()` functions) found{hint}; "
              f"to check your own code, run `torchlint verify -- pytest` or `-- python SCRIPT`")
    options = Options(devices="auto" if device == "auto" else _devices(device), timeout=timeout or 120.0,
                      memory_mb=memory_mb or 4096, jobs=jobs, static=claims in ("all", "static"),
                      markers=claims in ("all", "markers"))
    with _progress(files) as advance:
        records = verify_files(files, options, base=base, progress=advance)
    footer = [f"{len(skipped)} files without `case_*()` functions were not run"] if skipped else []
    if output_format == "json":
        render_json(records, sys.stdout)
    else:
        render_table(records, sys.stdout, use_color(color), strict, footer)
    sys.stdout.flush()
    sys.exit(EXIT_DISAGREE if any(r.fails(strict) for r in records) else EXIT_AGREE)


class _progress:
    """A progress bar on stderr that moves per case; nothing on a pipe or in CI."""

    def __init__(self, files: list[str]) -> None:
        from torchlint.verify.runner import case_count

        self.bar = None
        self.left = {path: (case_count(path) or 0) + 1 for path in files}  # + the module body
        self.total = sum(self.left.values())
        self.lock = threading.Lock()

    def __enter__(self):
        if sys.stderr.isatty() and not os.environ.get("CI"):
            from rich.console import Console
            from rich.progress import Progress

            self.bar = Progress(console=Console(file=sys.stderr), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("verifying fixture cases", total=self.total)
        return self.advance

    def advance(self, path, cases) -> None:
        """`cases` more cases of `path` ran; None: the module is done."""
        with self.lock:
            left = self.left.get(path, 0)
            step = left if cases is None else min(cases, left)
            self.left[path] = left - step
        if self.bar is not None and step:
            self.bar.advance(self.task, step)

    def __exit__(self, *exc_info) -> None:
        if self.bar is not None:
            self.bar.stop()
