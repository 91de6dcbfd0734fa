"""What a rule is: a class with its identity, its user docs, its examples and `visit_*` methods.

A rule module in `torchlint.rules` defines one subclass of `Rule`. The engine runs every enabled
rule in one batched LibCST traversal: a rule declares the nodes it visits by naming methods
`visit_<Node>` / `leave_<Node>` (LibCST's names), and asks the shared facts layer
(`self.facts`) rather than re-deriving what names, values and layouts mean.

This module must not import LibCST: the catalogue is listed, and files that cannot trigger any
rule are skipped, without paying for that import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

from torchlint.diagnostics import Applicability, Severity

if TYPE_CHECKING:
    from torchlint.engine import FileContext
    from torchlint.facts import ModuleFacts

DOC_SECTIONS = (
    "What it does",
    "Why is this bad?",
    "Example",
    "Use instead",
    "Fix safety",
    "Runtime verification",
    "References",
)

# Where each rule's page is published: `docs/rules/<CODE>-<name>.md` of the repository, generated
# from the catalogue by `python -m torchlint.rule_docs`. The one place that knows the repository.
REPOSITORY_URL = "https://github.com/torchlint/torchlint"
DOCS_DIR = "docs/rules"
DOCS_BASE = f"{REPOSITORY_URL}/blob/main/{DOCS_DIR}"


@dataclass(frozen=True)
class Invalid:
    """An example the rule must flag; `# expect: CODE` marks the line(s), `fixed` the autofix."""

    source: str
    fixed: str | None = None
    unsafe_fixed: str | None = None


@dataclass(frozen=True)
class NodeNote:
    """Evidence attached to a finding: a label at another node of the same file."""

    node: Any
    message: str


@dataclass(frozen=True)
class FixSpec:
    """A fix as node replacements; the engine turns them into text edits."""

    message: str
    applicability: Applicability
    # (node in the tree, replacement node or source text)
    replacements: tuple[tuple[Any, Any], ...] = ()


@dataclass
class Report:
    rule: type[Rule]
    node: Any
    message: str
    notes: Sequence[NodeNote] = ()
    help: str | None = None
    fix: FixSpec | None = None


class Rule:
    """Base class of every rule. Subclasses set the ClassVars and define visit methods."""

    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity]
    summary: ClassVar[str]  # one line: what the rule reports
    # Text prefilter: the rule can only fire on a file that contains one of these substrings.
    # An empty tuple means "any file".
    tokens: ClassVar[tuple[str, ...]] = ()
    requires: ClassVar[tuple[str, ...]] = ()  # and can only fire on a file that contains all of these
    VALID: ClassVar[tuple[str, ...]] = ()
    INVALID: ClassVar[tuple[Invalid | str, ...]] = ()

    def __init__(self, context: FileContext) -> None:
        self.context = context

    @property
    def facts(self) -> ModuleFacts:
        return self.context.facts

    def report(
        self,
        node: Any,
        message: str,
        *,
        notes: Sequence[NodeNote] = (),
        help: str | None = None,
        fix: FixSpec | None = None,
    ) -> None:
        self.context.add_report(
            Report(rule=type(self), node=node, message=message, notes=notes, help=help, fix=fix)
        )

    @classmethod
    def docs(cls) -> str:
        return _dedent_doc(cls.__doc__ or "")

    @classmethod
    def doc_sections(cls) -> dict[str, str]:
        """The docstring split at its `## Section` headings."""
        sections: dict[str, str] = {}
        current = None
        lines: list[str] = []
        for line in cls.docs().splitlines():
            heading = re.match(r"^##\s+(.*?)\s*$", line)
            if heading:
                if current is not None:
                    sections[current] = "\n".join(lines).strip()
                current, lines = heading.group(1), []
            elif current is not None:
                lines.append(line)
        if current is not None:
            sections[current] = "\n".join(lines).strip()
        return sections

    @classmethod
    def doc_file(cls) -> str:
        """The rule's page, relative to `DOCS_DIR`: `TL101-repeat-could-be-expand.md`."""
        return f"{cls.code}-{cls.name}.md"

    @classmethod
    def url(cls) -> str:
        return f"{DOCS_BASE}/{cls.doc_file()}"


def code_blocks(markdown: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"```(?:python|py)?\n(.*?)```", markdown, re.S)]


def _dedent_doc(doc: str) -> str:
    import textwrap

    first, _, rest = doc.partition("\n")
    return (first.strip() + "\n" + textwrap.dedent(rest)).strip()
