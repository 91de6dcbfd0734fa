"""The `torchlint` command. Exit codes: 0 clean, 1 findings, 2 usage, config or internal error."""

from __future__ import annotations

import os
import sys

import click

from torchlint import __version__, codes
from torchlint.output import FORMATS

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
@click.option("--statistics", is_flag=True, help="Print the number of findings per rule.")
@click.option("--color/--no-color", default=None, help="Colour output [default: on a terminal, unless NO_COLOR is set].")
def check(paths, select, extend_select, ignore, output_format, config_path, isolated, exclude, extend_exclude,
          force_exclude, respect_gitignore, exit_zero, statistics, color) -> None:
    """Lint PATHS (files or directories; default: the current directory)."""
    from torchlint.config import ConfigError, SelectionLayer, load_settings
    from torchlint.output import RenderOptions, render
    from torchlint.runner import check_paths

    paths = list(paths) or ["."]
    missing = [p for p in paths if not os.path.lexists(p)]
    if missing:
        _fail(f"path does not exist: {missing[0]}")
    if config_path is not None and not os.path.isfile(config_path):
        _fail(f"config file does not exist: {config_path}")
    try:
        settings = load_settings(
            config_path,
            SelectionLayer(select=_split(select) or None, extend_select=_split(extend_select), ignore=_split(ignore)),
            search_from=paths[0],
            cli_exclude=_split(exclude) or None,
            cli_extend_exclude=_split(extend_exclude),
            force_exclude=force_exclude,
            respect_gitignore=respect_gitignore,
            isolated=isolated,
        )
    except ConfigError as exc:
        _fail(str(exc))
    results = list(check_paths(paths, settings))
    use_color = _use_color(color)
    render(output_format or "full", results, sys.stdout, RenderOptions(color=use_color, statistics=statistics))
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
    from rich.console import Console
    from rich.markdown import Markdown

    console = Console(no_color=not _use_color(None), highlight=False)
    for index, found in enumerate(selected):
        if index:
            console.rule()
        console.print(Markdown(f"# {found.name} ({found.code})\n\nSeverity: {found.severity.value}\n\n{_body(found)}"))


def _body(rule) -> str:
    first, _, rest = rule.docs().partition("\n")
    return rest.strip() if first.startswith("##") is False and rest.strip().startswith("##") else rule.docs()


def _use_color(flag: bool | None) -> bool:
    if flag is not None:
        return flag
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty()


def _fail(message: str):
    click.echo(f"torchlint: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


if __name__ == "__main__":  # pragma: no cover
    main()
