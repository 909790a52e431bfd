"""Confidential PRD sections: which they are, and the finding that says what became of them.

A section whose heading (or a parent's) says "Confidential", "Internal only", "(internal)" or
"Do not publish" is confidential. Its requirements are planned but never published to a public
repository (bot/domain/sensitive.py); a confidential section that yields no requirement is left
out of the plan. Either way the person is told which section and why, never silently.
"""

from __future__ import annotations

import re

from bot.domain.models import Finding, Prd, Severity

CONFIDENTIAL = re.compile(r"confidential|internal only|\(internal\)|do not publish", re.IGNORECASE)

CHECK = "confidential"


def is_confidential(section_path: str) -> bool:
    return bool(CONFIDENTIAL.search(section_path))


def confidential_sections(prd: Prd) -> list[str]:
    """The outermost confidential sections (a path), in PRD order: a confidential section's
    subsections are part of it, not findings of their own."""
    outermost: list[str] = []
    for path in prd.sections:
        if not is_confidential(path) or any(path.startswith(f"{top} > ") for top in outermost):
            continue
        parts = path.split(" > ")
        # The first heading along the path that says "confidential" is where the marking starts.
        cut = next(i for i in range(len(parts)) if is_confidential(" > ".join(parts[: i + 1])))
        top = " > ".join(parts[: cut + 1])
        if top not in outermost:
            outermost.append(top)
    return outermost


def check_confidential_sections(prd: Prd) -> list[Finding]:
    findings: list[Finding] = []
    for path in confidential_sections(prd):
        title = path.split(" > ")[-1]
        served = [r.id for r in prd.requirements if r.section == path or r.section.startswith(f"{path} > ")]
        if served:
            message = (
                f"Section “{title}” is marked confidential: {', '.join(served)} from it are planned, "
                "but their items are withheld from a public repository."
            )
        else:
            message = (
                f"Section “{title}” was withheld from the plan: its heading marks it confidential, "
                "so nothing in it is planned or published."
            )
        findings.append(Finding(check=CHECK, severity=Severity.WARNING, message=message))
    return findings
