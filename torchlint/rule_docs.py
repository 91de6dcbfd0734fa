"""The rule pages under `docs/rules/`, generated from the catalogue; `Rule.url()` points at them.

Each rule's docstring is its documentation; this module renders it as one Markdown page per rule
(`docs/rules/<CODE>-<name>.md`) plus an index (`docs/rules/README.md`). The pages are checked in,
so the URLs in JSON and SARIF output resolve, and a test fails when they are out of date.

    python -m torchlint.rule_docs            # rewrite docs/rules/ from the catalogue
    python -m torchlint.rule_docs --check    # exit 1, naming the stale pages, if any differ
"""

from __future__ import annotations

import argparse
import os
import sys

from torchlint.registry import all_rules
from torchlint.rule import DOCS_DIR, Rule

INDEX = "README.md"
COMMAND = "python -m torchlint.rule_docs"
_GENERATED = f"<!-- Generated from the rule catalogue by `{COMMAND}`: edit the rule's docstring, not this file. -->"


def rule_page(rule: type[Rule]) -> str:
    """One rule's page: title, severity, summary, where it is defined, then its docstring."""
    source = "rules/" + rule.__module__.rpartition(".")[2] + ".py"
    return "\n".join([
        _GENERATED,
        f"# {rule.name} ({rule.code})",
        "",
        f"Severity: {rule.severity.value} · Defined in `{source}` · Index: [all rules]({INDEX})",
        "",
        f"{_plain(rule.summary)}.",
        "",
        rule.docs(),
        "",
    ])


def index_page(rules: tuple[type[Rule], ...]) -> str:
    rows = [f"| {r.code} | [{r.name}]({r.doc_file()}) | {_plain(r.summary)} | {r.severity.value} |" for r in rules]
    return "\n".join([
        _GENERATED,
        "# Rules",
        "",
        "Every rule torchlint has. `torchlint rule CODE` prints the same page in a terminal.",
        "",
        "| code | name | what it reports | severity |",
        "|---|---|---|---|",
        *rows,
        "",
    ])


def pages() -> dict[str, str]:
    """File name (relative to `docs/rules/`) → expected content, for the whole catalogue."""
    rules = all_rules()
    rendered = {rule.doc_file(): rule_page(rule) for rule in rules}
    rendered[INDEX] = index_page(rules)
    return rendered


def stale_pages(directory: str) -> list[str]:
    """Pages missing, different, or no longer in the catalogue (generated `.md` files only)."""
    expected = pages()
    stale = []
    for name, text in sorted(expected.items()):
        path = os.path.join(directory, name)
        try:
            with open(path, encoding="utf-8", newline="") as handle:
                if handle.read() != text:
                    stale.append(name)
        except OSError:
            stale.append(name)
    if os.path.isdir(directory):
        for name in sorted(os.listdir(directory)):
            if name.endswith(".md") and name not in expected and _is_generated(os.path.join(directory, name)):
                stale.append(name)
    return stale


def write_pages(directory: str) -> list[str]:
    """Bring `directory` up to date; returns the names written or removed."""
    changed = stale_pages(directory)
    os.makedirs(directory, exist_ok=True)
    expected = pages()
    for name in changed:
        path = os.path.join(directory, name)
        if name in expected:
            with open(path, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(expected[name])
        else:
            os.remove(path)
    return changed


def _plain(text: str) -> str:
    """A summary (plain text) as Markdown: `_` and `*` outside code spans are literal."""
    parts = text.split("`")
    for index in range(0, len(parts), 2):
        parts[index] = parts[index].replace("_", "\\_").replace("*", "\\*")
    return "`".join(parts)


def _is_generated(path: str) -> bool:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.readline().rstrip("\n") == _GENERATED
    except (OSError, UnicodeDecodeError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description="Generate docs/rules/ from the rule catalogue.")
    parser.add_argument("--check", action="store_true", help="only report pages that are out of date (exit 1)")
    parser.add_argument("--output", default=DOCS_DIR, help=f"the directory of the pages [default: {DOCS_DIR}]")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_pages(args.output)
        for name in stale:
            print(f"out of date: {os.path.join(args.output, name)}", file=sys.stderr)
        if stale:
            print(f"run `{COMMAND}` to regenerate them", file=sys.stderr)
        return 1 if stale else 0
    for name in write_pages(args.output):
        print(f"updated {os.path.join(args.output, name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
