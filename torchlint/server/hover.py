"""Hover on a finding: what was found here, then the rule's docs, as Markdown."""

from __future__ import annotations

from torchlint.diagnostics import Diagnostic

# The sections of a rule's docs worth reading in a tooltip; the rest is one link away.
HOVER_SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead")


def hover_markdown(findings: list[Diagnostic]) -> str:
    return "\n\n---\n\n".join(_one(finding) for finding in findings)


def _one(finding: Diagnostic) -> str:
    from torchlint.registry import lookup

    lines = [f"**{finding.code}** `{finding.name}`: {finding.message}"]
    if finding.help:
        lines.append(f"help: {finding.help}")
    if finding.fix is not None:
        lines.append(f"fix ({finding.fix.applicability.value}): {finding.fix.message}")
    rule = lookup(finding.code)
    if rule is not None:
        sections = rule.doc_sections()
        for title in HOVER_SECTIONS:
            if sections.get(title):
                lines.append(f"### {title}\n\n{sections[title]}")
        lines.append(f"[{rule.code} {rule.name}]({rule.url()})")
    return "\n\n".join(lines)
