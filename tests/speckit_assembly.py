"""A spec-kit style spec of 49 functional requirements, assembled from the real PRDs in fixtures.

No public spec of that size is in the fixtures, so this one is built at test time from the real
Task Master texts (tests/fixtures/prd/03-05), every sentence verbatim, laid out as spec-kit lays
out a spec: user stories with acceptance scenarios, `FR-001`… functional requirements and `SC-001`…
measurable outcomes. 5 stories + 49 requirements + 11 success criteria = 65 ids, more than the
60 items a run may have: the plan must fit anyway.
"""

from __future__ import annotations

import re

from tests.helpers import PRDS


def _section(text: str, heading: str) -> str:
    match = re.search(rf"^#+\s*{re.escape(heading)}\s*$(.*?)(?=^#)", text, re.MULTILINE | re.DOTALL)
    assert match, heading
    return match.group(1)


def _bullets(block: str, *, nested: bool) -> list[str]:
    pattern = r"^\s{2,}[-*]\s+(.+)$" if nested else r"^(?:[-*]|\d+\))\s+(.+)$"
    return [m.strip() for m in re.findall(pattern, block, re.MULTILINE)]


def speckit_spec() -> str:
    small = (PRDS / "03_taskmaster_prd_tm_start_small.md").read_text()
    large = (PRDS / "04_taskmaster_prd_full_large.md").read_text()
    loop = (PRDS / "05_taskmaster_loop_prd_large.md").read_text()

    stories = re.findall(r"^### US-\d+: (.+)\n\n(.+)$", loop, re.MULTILINE)
    tests = [
        re.sub(r"\*\*", "", m)
        for heading in ("Unit Tests", "Integration Tests")
        for m in re.findall(r"^\d+\.\s+(.+)$", _section(loop, heading), re.MULTILINE)
    ]

    functional = (
        _bullets(_section(large, "Phase 1: Core Task Management System"), nested=True)
        + _bullets(_section(large, "Phase 2: AI Integration"), nested=True)
        + _bullets(_section(small, "Core Features"), nested=False)
        + [re.sub(r"^\d\)\s*", "", s) for s in re.findall(r"^\d\) .+$", _section(small, "Development Roadmap"), re.M)]
        + _bullets(large.split("2. **Configuration Management**")[1], nested=True)[:4]
        + _bullets(large.split("1. **Node.js Runtime**")[1], nested=True)[:3]
    )
    outcomes = (
        [re.sub(r"^\d+\.\s*", "", m) for m in re.findall(r"^\d+\. .+$", _section(loop, "Success Metrics"), re.M)]
        + [
            "Success = exit code 0 AND git shows modified/created files",
            "Print changed file paths; warn if no changes detected",
        ]
        + ["Coverage target reached", "Zero lint errors", "No duplicates above threshold"]
    )
    lines = ["# Feature Specification: Task Master", "", "## User Scenarios & Testing *(mandatory)*", ""]
    for n, (name, text) in enumerate(stories, start=1):
        lines += [
            f"### User Story {n} - {name} (Priority: P{min(n, 3)})",
            "",
            text,
            "",
            "**Acceptance Scenarios**:",
            "",
        ]
        lines += [f"{k}. {t}" for k, t in enumerate(tests[(n - 1) * 2 : (n - 1) * 2 + 2], start=1)]
        lines.append("")
    lines += ["## Requirements *(mandatory)*", "", "### Functional Requirements", ""]
    lines += [f"- **FR-{n:03d}**: {text}" for n, text in enumerate(functional, start=1)]
    lines += ["", "## Success Criteria *(mandatory)*", "", "### Measurable Outcomes", ""]
    lines += [f"- **SC-{n:03d}**: {text}" for n, text in enumerate(outcomes, start=1)]
    return "\n".join(lines) + "\n"
