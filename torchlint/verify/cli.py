"""`torchlint verify`: run fixture programs and check every claim and trap at run time.

Exit codes: 0 every record agrees, 1 something disagrees (a refuted claim, a harmful trap, a
crash no claim predicts, a timeout), 2 usage error (bad path, cuda requested without CUDA,
torch not installed).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

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


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "all"]), default="auto", show_default=True,
              help="Where tensor cases run; auto is cpu plus cuda when torch.cuda.is_available().")
@click.option("--output-format", type=click.Choice(["full", "json"]), default="full", show_default=True)
@click.option("--timeout", type=click.FloatRange(min=1), default=120.0, show_default=True,
              help="Seconds allowed per fixture module.")
@click.option("--memory-limit", "memory_mb", type=click.IntRange(min=256), default=4096, show_default=True,
              help="Address-space cap per module in MiB (CPU-only runs).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=min(4, os.cpu_count() or 1), show_default=True,
              help="Modules verified in parallel.")
@click.option("--claims", type=click.Choice(["all", "static", "markers"]), default="all", show_default=True,
              help="What counts as a claim: static findings, `# expect:` markers, or both.")
@click.option("--color/--no-color", default=None, help="Colour output [default: on a terminal, unless NO_COLOR].")
def verify(paths, device, output_format, timeout, memory_mb, jobs, claims, color) -> None:
    """Run fixture modules (default: the bundled rule fixtures) and check claims against run time."""
    from torchlint.verify.report import render_json, render_table
    from torchlint.verify.runner import Options, bundled_fixtures, discover, verify_files

    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        _fail(f"path does not exist: {missing[0]}")
    if importlib.util.find_spec("torch") is None:
        _fail("torch is not installed; install the extra: pip install 'torchlint[verify]'")
    base = None
    if not paths:
        base = bundled_fixtures()
        if base is None:
            _fail("the bundled fixtures are missing from this installation")
        paths = (base,)
    files = discover(list(paths))
    if not files:
        _fail("no fixture modules (.py or .ipynb) found")
    options = Options(devices="auto" if device == "auto" else _devices(device), timeout=timeout,
                      memory_mb=memory_mb, jobs=jobs, static=claims in ("all", "static"),
                      markers=claims in ("all", "markers"))
    with _progress(len(files)) as advance:
        records = verify_files(files, options, base=base, progress=advance)
    if output_format == "json":
        render_json(records, sys.stdout)
    else:
        render_table(records, sys.stdout, use_color(color))
    sys.stdout.flush()
    sys.exit(EXIT_AGREE if all(r.agree for r in records) else EXIT_DISAGREE)


class _progress:
    """A progress bar on stderr when it is a terminal; nothing on a pipe or in CI."""

    def __init__(self, total: int) -> None:
        self.total, self.bar = total, None

    def __enter__(self):
        if sys.stderr.isatty() and not os.environ.get("CI"):
            from rich.console import Console
            from rich.progress import Progress

            self.bar = Progress(console=Console(file=sys.stderr), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("verifying fixture modules", total=self.total)
        return self.advance

    def advance(self, path, records) -> None:
        if self.bar is not None:
            self.bar.advance(self.task)

    def __exit__(self, *exc_info) -> None:
        if self.bar is not None:
            self.bar.stop()


