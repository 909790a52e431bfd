"""The offline heuristic planner: no LLM, no network, deterministic.

It turns each requirement into one issue-sized work item that traces to it, takes acceptance
criteria from the PRD where it has them, orders numbered roadmap steps, and labels its output
as heuristic everywhere so nobody mistakes it for a model's plan.
"""

from __future__ import annotations

import re

from bot.domain.models import ArchitecturePack, Plan, Prd, Requirement, WorkItem
from bot.planner.port import PlanningContext, PlanOutcome

HEURISTIC_NOTE = "Planned offline by the PASS heuristic planner (no LLM was used)."

_TOPIC_LABELS: tuple[tuple[str, str], ...] = (
    (r"\btest|coverage|e2e\b", "testing"),
    (r"\bdoc(s|umentation)?\b|readme|guide", "docs"),
    (r"\bapi\b|endpoint|integration|webhook", "integration"),
    (r"\bcli\b|command|terminal", "cli"),
    (r"\bui\b|ux|page|screen|front.?end", "ui"),
    (r"secur|auth|permission|secret|token", "security"),
    (r"data|model|schema|storage|database|json", "data"),
    (r"config|setting|environment", "config"),
)
_PHASE = re.compile(r"phase\s*(\d+)", re.IGNORECASE)
_ORDERED_SECTION = re.compile(r"roadmap|phase|mvp|step|milestone", re.IGNORECASE)


class HeuristicPlanner:
    name = "heuristic"

    async def plan(self, prd: Prd, context: PlanningContext) -> PlanOutcome:
        return PlanOutcome(plan=plan_heuristically(prd, context))


def plan_heuristically(prd: Prd, context: PlanningContext | None = None) -> Plan:
    items = [_item(n, req) for n, req in enumerate(prd.requirements, start=1)]
    _link_ordered_steps(items, prd.requirements)
    _link_named_dependencies(items, prd.requirements)
    summary = (
        f"{HEURISTIC_NOTE} {len(items)} work item(s) covering {len(prd.requirements)} requirement(s) "
        f"of \u201c{prd.title}\u201d."
    )
    return Plan(summary=summary, architecture=_architecture(prd), items=items)


def _title_of(req: Requirement) -> str:
    head = re.split(r":\s+As an?\b", req.text, maxsplit=1)[0]
    head = head.split(": ", 1)[0] if len(head) > 90 and ": " in head else head
    head = head.strip().rstrip(".")
    if len(head) > 90:
        head = head[:87].rsplit(" ", 1)[0] + "…"
    return f"{head} ({req.id})"


def _estimate(req: Requirement) -> str:
    weight = len(req.text.split()) + 8 * len(req.acceptance_criteria)
    if weight <= 12:
        return "S"
    if weight <= 40:
        return "M"
    return "L"


def _labels(req: Requirement) -> list[str]:
    labels = ["pass", "user-story" if req.id.startswith("US-") else "requirement"]
    phase = _PHASE.search(req.section)
    if phase:
        labels.append(f"phase-{phase.group(1)}")
    if re.search(r"\bmvp\b", req.section, re.IGNORECASE):
        labels.append("mvp")
    text = f"{req.section} {req.text}".lower()
    labels.extend(label for pattern, label in _TOPIC_LABELS if re.search(pattern, text))
    return list(dict.fromkeys(labels))[:6]


def _acceptance(req: Requirement) -> list[str]:
    if req.acceptance_criteria:
        return list(req.acceptance_criteria)
    # The PRD gives no criteria for this one: state the requirement as a checkable outcome.
    return [
        f"{req.text.rstrip('.')} — works as the PRD describes ({req.id}).",
        "Covered by an automated test that fails without the change.",
    ]


def _item(n: int, req: Requirement) -> WorkItem:
    acceptance = _acceptance(req)
    derived = not req.acceptance_criteria
    lines = [
        f"**Serves:** {req.id} — {req.text}",
        "",
        f"**PRD section:** {req.section or '(top of the PRD)'}",
        "",
        "**Acceptance criteria**" + (" (derived: the PRD gives none for this requirement)" if derived else ""),
        *[f"- [ ] {c}" for c in acceptance],
        "",
        f"_{HEURISTIC_NOTE}_",
    ]
    return WorkItem(
        key=f"T{n:02d}",
        title=_title_of(req),
        body="\n".join(lines),
        requirement_ids=[req.id],
        labels=_labels(req),
        estimate=_estimate(req),
        acceptance_criteria=acceptance,
        rationale=f"One item per requirement: {req.id} must be delivered and checked on its own.",
    )


def _link_ordered_steps(items: list[WorkItem], reqs: list[Requirement]) -> None:
    """Numbered roadmap steps and phases imply order: each step depends on the one before."""
    previous: WorkItem | None = None
    previous_section: str | None = None
    for item, req in zip(items, reqs, strict=True):
        ordered = bool(_ORDERED_SECTION.search(req.section))
        if ordered and previous is not None and previous_section is not None:
            same_roadmap = req.section.split(" > ")[0] == previous_section.split(" > ")[0]
            if same_roadmap:
                item.depends_on.append(previous.key)
        previous, previous_section = (item, req.section) if ordered else (None, None)


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]{4,}", text.lower())}


def _link_named_dependencies(items: list[WorkItem], reqs: list[Requirement]) -> None:
    """'Depends on X' / 'requires X' / 'after X' where X names another item adds an edge."""
    names = {item.key: _words(req.text.split(":")[0]) for item, req in zip(items, reqs, strict=True)}
    for item, req in zip(items, reqs, strict=True):
        for clause in re.findall(r"(?:depends on|requires|after|built on top of)\s+([^.;]+)", req.text, re.I):
            wanted = _words(clause)
            for key, words in names.items():
                if key != item.key and words and words <= wanted and key not in item.depends_on:
                    item.depends_on.append(key)


def _bullets(text: str, limit: int) -> list[str]:
    out = []
    for line in text.split("\n"):
        match = re.match(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+(.*)$", line)
        if match:
            out.append(re.sub(r"\*\*(.+?)\*\*", r"\1", match.group(1)).strip())
        if len(out) >= limit:
            break
    return out


def _find_sections(prd: Prd, pattern: str) -> list[str]:
    return [body for path, body in prd.sections.items() if re.search(pattern, path, re.IGNORECASE)]


def _architecture(prd: Prd) -> ArchitecturePack:
    overview_bodies = _find_sections(prd, r"overview|summary|introduction") or [prd.sections.get("(intro)", "")]
    overview = next((b for b in overview_bodies if b), "")
    overview = re.sub(r"\s+", " ", overview)[:600]
    components = [
        {"name": b.split(":")[0][:80], "responsibility": b[:200]}
        for body in _find_sections(prd, r"architecture|component|system design|technical design")
        for b in _bullets(body, 8)
    ][:8]
    flow = [b for body in _find_sections(prd, r"user experience|flow|journey") for b in _bullets(body, 10)][:10]
    interfaces = [b for body in _find_sections(prd, r"api|interface|command|integration") for b in _bullets(body, 6)][
        :8
    ]
    risks = [
        re.sub(r"\*\*|\s+", " ", m).strip()
        for body in _find_sections(prd, r"risk")
        for m in re.findall(r"\*\*Risk\*\*:\s*(.+)", body)
    ] or [b for body in _find_sections(prd, r"risk") for b in _bullets(body, 6)]
    questions = [
        line.strip("-* ").strip()
        for body in prd.sections.values()
        for line in body.split("\n")
        if line.strip().endswith("?") and len(line.strip()) > 10
    ][:6]
    questions.append("Heuristic plan: review scope and estimates; an LLM planner would propose a fuller design.")
    return ArchitecturePack(
        overview=overview or f"{prd.title}.",
        components=components,
        data_flow=flow,
        interfaces=interfaces,
        risks=risks[:8],
        open_questions=questions,
    )
