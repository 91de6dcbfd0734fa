"""The `torchlint` command. Exit codes: 0 clean, 1 findings, 2 usage, config or internal error."""

from __future__ import annotations

import os
import sys

import click

from torchlint import __version__, codes
from torchlint.output import FORMATS, use_color

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _split(values: tuple[str, ...]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


class _Group(click.Group):
    def main(self, *args, **kwargs):
        try:
            return super().main(*args, **kwargs)
        except BrokenPipeError:
            _silence_stdout()
            sys.exit(EXIT_CLEAN)

    # `verify` is imported only when asked for: a static run never loads the runtime mode.
    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), "verify"})

    def get_command(self, ctx, name):
        if name == "verify" and name not in self.commands:
            from torchlint.verify.cli import verify

            self.add_command(verify)
        return super().get_command(ctx, name)


def _silence_stdout() -> None:
    # `torchlint check | head`: the reader left; end quietly, like a Unix tool.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="torchlint")
def main() -> None:
    """torchlint: a static linter for PyTorch and ML code."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--select", multiple=True, help="Rules to enable (codes, prefixes such as TL1, names, or ALL); replaces the config's.")
@click.option("--extend-select", multiple=True, help="Rules to enable in addition to the selection.")
@click.option("--ignore", multiple=True, help="Rules to disable.")
@click.option("--output-format", type=click.Choice(FORMATS), default=None, help="How findings are printed [default: full].")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=str), help="Read settings from this file instead of the nearest pyproject.toml.")
@click.option("--isolated", is_flag=True, help="Ignore every configuration file.")
@click.option("--exclude", multiple=True, help="Glob patterns to exclude, replacing the defaults.")
@click.option("--extend-exclude", multiple=True, help="Glob patterns to exclude in addition to the defaults.")
@click.option("--force-exclude/--no-force-exclude", default=None, help="Apply excludes to paths passed explicitly too.")
@click.option("--respect-gitignore/--no-respect-gitignore", default=None, help="Skip files ignored by .gitignore [default: respect].")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--statistics", is_flag=True, help="Print only the number of findings per rule (as JSON with --output-format json).")
@click.option("--color/--no-color", default=None, help="Colour output [default: on a terminal, unless NO_COLOR is set].")
@click.option("--fix", is_flag=True, help="Apply safe fixes, then report what remains.")
@click.option("--unsafe-fixes", is_flag=True, help="With --fix or --diff, apply unsafe fixes too (review them).")
@click.option("--diff", is_flag=True, help="Print fixes as a unified diff and write nothing; exit 1 if there is something to fix.")
@click.option("--show-fixes", is_flag=True, help="With --fix, list the findings that were fixed.")
@click.option("--add-noqa", is_flag=True, help="Add a `# noqa: CODE` comment to every line with a finding, to adopt torchlint in an existing code base.")
@click.option("--stdin-filename", type=str, default=None, help="The name of the file read from stdin (`check -`): for settings and messages.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, help="Worker processes [default: all cores; one file runs in-process].")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=str), envvar="TORCHLINT_CACHE_DIR", default=None, help="Where results are cached [default: .torchlint_cache in the project root].")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the result cache.")
@click.option("--max-file-size", default=None, metavar="SIZE", help="Report larger files (TL002) instead of analysing them, e.g. 4MB; 0: no limit [default: 2MB].")
def check(paths, select, extend_select, ignore, output_format, config_path, isolated, exclude, extend_exclude,
          force_exclude, respect_gitignore, exit_zero, statistics, color, fix, unsafe_fixes, diff, show_fixes,
          add_noqa, stdin_filename, jobs, cache_dir, no_cache, max_file_size) -> None:
    """Lint PATHS (files or directories; default: the current directory; `-`: stdin)."""
    from torchlint.config import ConfigError, SelectionLayer, load_settings
    from torchlint.output import RenderOptions, render
    from torchlint.runner import check_paths

    paths = list(paths) or ["."]
    from_stdin = paths == ["-"]
    if "-" in paths and not from_stdin:
        _fail("`-` (read stdin) cannot be combined with other paths")
    missing = [p for p in paths if not os.path.lexists(p) and not from_stdin]
    if missing:
        _fail(f"path does not exist: {missing[0]}")
    if add_noqa and (fix or diff or from_stdin):
        _fail("--add-noqa edits files on disk: it cannot be combined with --fix, --diff or `-` (stdin)")
    if statistics and output_format not in (None, "full", "concise", "json"):
        _fail(f"--statistics prints a table (full, concise) or JSON (json), not {output_format}")
    if config_path is not None and not os.path.isfile(config_path):
        _fail(f"config file does not exist: {config_path}")
    try:
        settings = load_settings(
            config_path,
            SelectionLayer(select=_split(select) or None, extend_select=_split(extend_select), ignore=_split(ignore)),
            search_from=(stdin_filename or ".") if from_stdin else paths[0],
            cli_exclude=_split(exclude) or None,
            cli_extend_exclude=_split(extend_exclude),
            force_exclude=force_exclude,
            respect_gitignore=respect_gitignore,
            isolated=isolated,
            max_file_size=max_file_size,
        )
    except ConfigError as exc:
        _fail(str(exc))
    if from_stdin:
        _check_stdin(settings, stdin_filename, fix, unsafe_fixes, diff, output_format, exit_zero)
    results = _with_progress(check_paths(paths, settings, jobs=jobs, cache=_result_cache(settings, cache_dir, no_cache)), paths, settings)
    if add_noqa:
        _add_noqa(results, exit_zero)
    report = []
    if fix or diff:
        from torchlint.fixes import fix_run, problem_lines, unified_diff

        run = fix_run(results, settings, unsafe=unsafe_fixes, diff=diff)
        results, report = run.results, run.report_lines(show_fixes)
        for line in problem_lines(run.outcomes):
            click.echo(line, err=True)
        if diff:
            sys.stdout.write("".join(unified_diff(o) for o in run.outcomes))
            for line in report:
                click.echo(line, err=True)
            sys.exit(EXIT_FINDINGS if run.would_change else EXIT_CLEAN)
    if statistics:
        from torchlint.output.summary import render_statistics

        render_statistics(results, sys.stdout, as_json=output_format == "json")
    else:
        render(output_format or "full", results, sys.stdout, RenderOptions(color=use_color(color)))
    for line in report:  # machine-readable formats keep stdout to themselves
        click.echo(line, err=(output_format or "full") not in ("full", "concise"))
    sys.stdout.flush()
    diagnostics = [d for r in results for d in r.diagnostics]
    if any(d.code == codes.INTERNAL_ERROR for d in diagnostics):
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_FINDINGS if diagnostics and not exit_zero else EXIT_CLEAN)


@main.command()
@click.argument("code_or_name", required=False)
@click.option("--all", "show_all", is_flag=True, help="Show every rule's documentation.")
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text")
def rule(code_or_name, show_all, output_format) -> None:
    """Show a rule's documentation (by code or name)."""
    from torchlint.registry import all_rules, lookup

    if show_all:
        selected = list(all_rules())
    elif code_or_name:
        found = lookup(code_or_name)
        if found is None:
            _fail(f"unknown rule `{code_or_name}`; `torchlint rule --all` lists them")
        selected = [found]
    else:
        _fail("give a rule code or name, or --all")
    if output_format == "json":
        import json

        records = [
            {"code": r.code, "name": r.name, "severity": r.severity.value, "summary": r.summary,
             "explanation": r.docs(), "url": r.url()}
            for r in selected
        ]
        click.echo(json.dumps(records if show_all else records[0], indent=2))
        return
    pages = [f"# {found.name} ({found.code})\n\nSeverity: {found.severity.value}\n\n{_body(found)}" for found in selected]
    if not sys.stdout.isatty():
        # A pipe or a file gets the Markdown itself: no wrapping, no padding to a terminal's width.
        click.echo("\n\n---\n\n".join(page.rstrip() for page in pages))
        return
    from rich.console import Console
    from rich.markdown import Markdown

    console = Console(no_color=not use_color(None), highlight=False)
    for index, page in enumerate(pages):
        if index:
            console.rule()
        console.print(Markdown(page))


def _add_noqa(results, exit_zero: bool) -> None:
    """Write the comments, say how many, and list what a comment cannot silence (exit 1 then)."""
    from torchlint.add_noqa import add_noqa
    from torchlint.output import location_text

    run = add_noqa(results)
    for line in run.report_lines():
        click.echo(line, err=True)
    if run.left:
        click.echo(f"{len(run.left)} finding{'s' if len(run.left) != 1 else ''} cannot be silenced by `# noqa` (fix them, or exclude the file):")
        for diagnostic in run.left:
            click.echo(f"{location_text(diagnostic)}: {diagnostic.code} {diagnostic.message}")
    failed = run.left or any(outcome.error for outcome in run.outcomes)
    sys.exit(EXIT_FINDINGS if failed and not exit_zero else EXIT_CLEAN)


def _check_stdin(settings, filename, fix, unsafe, diff, output_format, exit_zero) -> None:
    """`check -`: lint (or fix) what stdin holds; with --fix the fixed code goes to stdout."""
    from torchlint.discovery import discover
    from torchlint.engine import lint_file
    from torchlint.output import RenderOptions, render

    data = sys.stdin.buffer.read()
    shown = filename or "-"
    excluded = filename is not None and not list(discover([filename], settings))
    if fix or diff:
        from torchlint.fixes import fix_stdin, problem_lines, unified_diff

        if excluded:
            sys.stdout.buffer.write(b"" if diff else data)
            sys.exit(EXIT_CLEAN)
        outcome = fix_stdin(data, shown, settings, unsafe=unsafe)
        for line in problem_lines([outcome]):
            click.echo(line, err=True)
        if diff:
            sys.stdout.write(unified_diff(outcome))
            sys.exit(EXIT_FINDINGS if outcome.changed else EXIT_CLEAN)
        sys.stdout.buffer.write(outcome.fixed)
        sys.stdout.flush()
        results = [outcome.result]
        stream = sys.stderr  # stdout holds the code
    else:
        results = [] if excluded else [lint_file(shown, settings, data=data)]
        stream = sys.stdout
    render(output_format or ("concise" if stream is sys.stderr else "full"), results, stream, RenderOptions())
    stream.flush()
    diagnostics = [d for r in results for d in r.diagnostics]
    if any(d.code == codes.INTERNAL_ERROR for d in diagnostics):
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_FINDINGS if diagnostics and not exit_zero else EXIT_CLEAN)


@main.command()
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=str), envvar="TORCHLINT_CACHE_DIR", default=None, help="The cache to delete [default: .torchlint_cache in the project root].")
def clean(cache_dir) -> None:
    """Delete the result cache."""
    from torchlint.cache import clean as remove_cache

    directory = cache_dir or _default_cache_dir()
    if not os.path.exists(directory):
        return
    if not remove_cache(directory):
        _fail(f"{directory} is not a torchlint cache (no torchlint CACHEDIR.TAG); not deleting it")
    click.echo(f"Removed {directory}", err=True)


def _default_cache_dir() -> str:
    from torchlint.cache import DEFAULT_DIR
    from torchlint.config import find_config

    config = find_config(".")
    return os.path.join(os.path.dirname(config) if config else ".", DEFAULT_DIR)


def _result_cache(settings, cache_dir: str | None, no_cache: bool):
    if no_cache:
        return None
    from torchlint.cache import DEFAULT_DIR, ResultCache

    cache = ResultCache(cache_dir or os.path.join(settings.project_root, DEFAULT_DIR), settings.fingerprint(),
                        confined_to=None if cache_dir else settings.project_root)
    if cache.refused:
        click.echo(f"torchlint: warning: not caching: {cache.refused}; name it with --cache-dir to use it", err=True)
    return cache


def _body(rule) -> str:
    first, _, rest = rule.docs().partition("\n")
    return rest.strip() if first.startswith("##") is False and rest.strip().startswith("##") else rule.docs()


PROGRESS_MIN_FILES = 50  # below this a run is over before a bar would help


def _with_progress(results, paths, settings) -> list:
    """Collect the results, showing a progress bar on stderr for long interactive runs.

    Only when both stdout and stderr are terminals and `CI` is not set; the bar is erased when
    done, so the output is the same as without it. Counting the files walks the tree a second
    time, which is paid only on a terminal.
    """
    if os.environ.get("CI") or not (sys.stdout.isatty() and sys.stderr.isatty()):
        return list(results)
    from torchlint.discovery import discover

    total = sum(1 for _ in discover(paths, settings))
    if total < PROGRESS_MIN_FILES:
        return list(results)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("Checking"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    collected = []
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("check", total=total)
        for result in results:
            collected.append(result)
            progress.advance(task)
    return collected


def _fail(message: str):
    click.echo(f"torchlint: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


@main.command()
def server() -> None:
    """Run the language server on stdin/stdout (needs `pip install 'torchlint[server]'`)."""
    from torchlint.server import run

    run()


if __name__ == "__main__":  # pragma: no cover
    main()
