"""The offline heuristic planner: no LLM, no network, deterministic.

It groups the PRD's requirements into issue-sized units within the item budget
(bot/planner/grouping.py), links them only where the PRD gives evidence, each link with its
reason (bot/planner/dependency_evidence.py), drafts an architecture pack from the PRD's text
(bot/planner/architecture.py), and labels its output as heuristic everywhere so nobody mistakes
it for a model's plan.
"""

from __future__ import annotations

import re

from bot.domain.models import Plan, Prd, WorkItem
from bot.planner.architecture import architecture_pack
from bot.planner.dependency_evidence import find_dependencies
from bot.planner.grouping import WorkUnit, plan_units
from bot.planner.port import PlanningContext, PlanOutcome
from bot.planner.words import short_head, words

HEURISTIC_NOTE = "Planned offline by the PASS heuristic planner (no LLM was used)."
DEFAULT_MAX_ITEMS = 60
MAX_TITLE = 110

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
# Work that reaches outside the codebase costs more than its word count says.
_EXTERNAL = re.compile(r"\bapi\b|integration|auth|webhook|oauth|third.party|llm|model\b|network|sync", re.IGNORECASE)


class HeuristicPlanner:
    name = "heuristic"

    async def plan(self, prd: Prd, context: PlanningContext) -> PlanOutcome:
        return PlanOutcome(plan=plan_heuristically(prd, context))


def plan_heuristically(prd: Prd, context: PlanningContext | None = None) -> Plan:
    max_items = context.max_items if context is not None else DEFAULT_MAX_ITEMS
    units = plan_units(prd, max_items)
    keys = [f"T{n:02d}" for n in range(1, len(units) + 1)]
    blockers = find_dependencies(prd, units)
    items = [
        _item(keys[n], unit, {keys[d]: reason for d, reason in sorted(blockers.get(n, {}).items())})
        for n, unit in enumerate(units)
    ]
    served = len({rid for item in items for rid in item.requirement_ids})
    links = sum(len(i.depends_on) for i in items)
    summary = (
        f"{HEURISTIC_NOTE} {len(items)} work item(s) covering {served} requirement(s) "
        f"of \u201c{prd.title}\u201d; {links} dependency link(s), each with the PRD's evidence."
    )
    return Plan(summary=summary, architecture=architecture_pack(prd, units, items), items=items)


def _title(unit: WorkUnit) -> str:
    ids = unit.requirement_ids if unit.requirements else [m.requirement_id or "" for m in unit.measures]
    ids = [i for i in ids if i]
    if unit.verification:
        area = unit.section.split(" > ")[-1] or "success criteria"
        head = f"Verify {area.lower()}"
    elif unit.part is not None:
        req = unit.requirements[0]
        first = short_head(req.acceptance_criteria[0], limit=50) if req.acceptance_criteria else ""
        head = f"{short_head(req.text, limit=50)}: {first}"
        ids = [*ids[:1], f"part {unit.part[0]} of {unit.part[1]}"]
    elif len(unit.requirements) == 1:
        head = short_head(unit.requirements[0].text, limit=90)
    else:
        head = _joined_heads([short_head(r.text, limit=90) for r in unit.requirements], MAX_TITLE - 30)
    suffix = _id_list(ids)
    room = MAX_TITLE - len(suffix) - 3
    if len(head) > room:
        head = head[: room - 1].rsplit(" ", 1)[0].rstrip(";,") + "…"
    return f"{head} ({suffix})" if suffix else head


def _joined_heads(heads: list[str], room: int) -> str:
    """As many requirement heads as fit, whole, then how many more the body lists."""
    shown = [heads[0]]
    for head in heads[1:]:
        rest = len(heads) - len(shown) - 1
        tail = f" and {rest} more" if rest else ""
        if len("; ".join([*shown, head])) + len(tail) > room:
            break
        shown.append(head)
    more = len(heads) - len(shown)
    return "; ".join(shown) + (f" and {more} more" if more else "")


def _id_list(ids: list[str]) -> str:
    if len(ids) <= 3:
        return ", ".join(ids)
    return f"{ids[0]} … {ids[-1]}, {len(ids)} ids"


def _estimate(unit: WorkUnit) -> str:
    """Scope, not a default: the words and criteria the PRD gives it, what it reaches outside, its parts."""
    criteria = [c for r in unit.requirements for c in r.acceptance_criteria]
    score = (
        sum(len(words(r.text)) for r in unit.requirements)
        + sum(3 + len(words(c)) for c in criteria)
        + (12 if _EXTERNAL.search(unit.text) else 0)
        + 6 * max(0, len(unit.requirements) - 1)
        + 4 * len(unit.measures)
    )
    for size, limit in (("XS", 10), ("S", 28), ("M", 45), ("L", 75)):
        if score <= limit:
            return size
    return "XL"


def _labels(unit: WorkUnit) -> list[str]:
    kinds = {"user-story" if r.id.startswith("US-") else "requirement" for r in unit.requirements}
    labels = ["pass", *sorted(kinds)] if not unit.verification else ["pass", "verification"]
    phase = _PHASE.search(unit.section)
    if phase:
        labels.append(f"phase-{phase.group(1)}")
    if re.search(r"\bmvp\b", unit.section, re.IGNORECASE):
        labels.append("mvp")
    text = f"{unit.section} {unit.text}".lower()
    labels.extend(label for pattern, label in _TOPIC_LABELS if re.search(pattern, text))
    return list(dict.fromkeys(labels))[:6]


def _acceptance(unit: WorkUnit) -> tuple[list[str], bool]:
    """The PRD's criteria, or the requirement stated as a checkable outcome; then the measures."""
    criteria: list[str] = []
    derived = False
    for req in unit.requirements:
        if req.acceptance_criteria:
            criteria.extend(req.acceptance_criteria)
        else:
            derived = True
            criteria.append(f"{req.text.rstrip('.')} — works as the PRD describes ({req.id}).")
    criteria.extend(m.as_criterion() for m in unit.measures)
    if derived or unit.verification:
        criteria.append("Covered by an automated test that fails without the change.")
    return criteria, derived


def _item(key: str, unit: WorkUnit, reasons: dict[str, str]) -> WorkItem:
    acceptance, derived = _acceptance(unit)
    serves = [f"- {r.id} — {r.text}" for r in unit.requirements]
    serves.extend(f"- {m.requirement_id} — {m.text} (success criterion)" for m in unit.measures if m.requirement_id)
    blocked = [f"- Blocked by {dep}: {reason}" for dep, reason in reasons.items()]
    lines = [
        "**Serves:**",
        *serves,
        "",
        f"**PRD section:** {unit.section or '(top of the PRD)'}",
        "",
        "**Dependencies:**",
        *(blocked or ["- None: this item can start at once."]),
        "",
        "**Acceptance criteria**" + (" (derived where the PRD gives none)" if derived else ""),
        *[f"- [ ] {c}" for c in acceptance],
        "",
        f"_{HEURISTIC_NOTE}_",
    ]
    return WorkItem(
        key=key,
        title=_title(unit),
        body="\n".join(lines),
        requirement_ids=unit.requirement_ids,
        depends_on=list(reasons),
        dependency_reasons=reasons,
        labels=_labels(unit),
        estimate=_estimate(unit),
        acceptance_criteria=acceptance,
        rationale=_rationale(unit),
    )


def _rationale(unit: WorkUnit) -> str:
    if unit.verification:
        return "Checks the success criteria of this area that no single item delivers."
    if unit.part is not None:
        n, count = unit.part
        return f"Part {n} of {count} of {unit.requirements[0].id}: its acceptance criteria are too many for one issue."
    if len(unit.requirements) == 1:
        return f"One coherent piece of work: {unit.requirements[0].id}."
    size = sum(len(words(r.text)) for r in unit.requirements)
    return (
        f"{len(unit.requirements)} small related requirements of one section ({size} words together): "
        "one issue-sized item, each requirement still traced."
    )
