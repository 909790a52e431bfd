"""What a synced GitHub issue says: the hidden marker, the traceability, the tracking list.

Pure functions. The marker is the first line of every body PASS writes; it is how a resumed or
retried sync recognises its own issues, since GitHub has no idempotency key for issue creation.
It is only read from the very start of a body, so marker-like text quoted from a PRD inside the
body cannot pass for one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote

from bot.domain.backlog_rules import MAX_BODY, MAX_TITLE
from bot.domain.mentions import quiet_everywhere, quiet_mentions
from bot.domain.models import Plan, Prd, Run, SyncRefusal, WorkItem
from bot.domain.secrets import redact

TRACKING_KEY = "_tracking"

_MARKER = re.compile(r"\A<!-- pass:run=(?P<run>\S+) item=(?P<item>\S+) plan=(?P<plan>[0-9a-f]{1,64}) -->")


@dataclass(frozen=True)
class Marker:
    run_id: str
    item_key: str
    plan: str  # the first 12 hex digits of the approved plan's hash

    @classmethod
    def for_item(cls, run_id: str, item_key: str, plan_hash: str) -> Marker:
        return cls(run_id=run_id, item_key=item_key, plan=plan_hash[:12])

    @property
    def text(self) -> str:
        run, item = quote(self.run_id, safe=""), quote(self.item_key, safe="")
        return f"<!-- pass:run={run} item={item} plan={self.plan} -->"


def parse_marker(body: str | None) -> Marker | None:
    match = _MARKER.match(body or "")
    if match is None:
        return None
    return Marker(run_id=unquote(match["run"]), item_key=unquote(match["item"]), plan=match["plan"])


@dataclass(frozen=True)
class IssueDraft:
    key: str
    title: str
    body: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Provenance:
    """Where an issue came from: shown at the foot of every body."""

    run_id: str
    plan_hash: str
    planner: str
    requester: str
    approvers: tuple[str, ...]
    thread_url: str | None

    @classmethod
    def of(cls, run: Run, plan_hash: str, thread_url: str | None) -> Provenance:
        # Slack user ids, written without "@": on GitHub "@name" would notify a stranger.
        approvers = tuple(
            f"{a.user} (via {a.via}, {a.at:%Y-%m-%d %H:%M} UTC)" for a in run.approvals if a.decision == "approve"
        )
        return cls(
            run_id=run.run_id,
            plan_hash=plan_hash,
            planner=run.planner,
            requester=f"{run.requester} on behalf of {run.on_behalf_of}" if run.on_behalf_of else run.requester,
            approvers=approvers,
            thread_url=thread_url,
        )

    def footer(self) -> str:
        approved = ", ".join(self.approvers) if self.approvers else "nobody recorded"
        thread = f" · [Slack thread]({self.thread_url})" if self.thread_url else ""
        # A requester named by an API caller is free text: it must not ping "@someone" either.
        requester = f" · requested by {quiet_everywhere(self.requester)}" if self.requester else ""
        return (
            f"---\n<sub>Created by PASS run `{self.run_id}` (planner {self.planner}, plan "
            f"`{self.plan_hash[:12]}`){thread}{requester} · approved by {approved}</sub>"
        )


def dependency_order(items: Sequence[WorkItem]) -> list[WorkItem]:
    """Items with every dependency before its dependents, otherwise in plan order.

    Dependencies outside `items` are ignored; items caught in a cycle (which verification
    should have refused) follow in plan order rather than being dropped.
    """
    keys = {item.key for item in items}
    remaining = list(items)
    placed: set[str] = set()
    ordered: list[WorkItem] = []
    progress = True
    while remaining and progress:
        progress = False
        for item in list(remaining):
            if all(dep in placed or dep not in keys for dep in item.depends_on):
                ordered.append(item)
                placed.add(item.key)
                remaining.remove(item)
                progress = True
    return ordered + remaining


def _fit(body: str, footer: str, run_id: str) -> str:
    """Cut an over-long body in the middle so the marker (top) and the footer (bottom) survive."""
    full = f"{body}\n\n{footer}"
    if len(full) <= MAX_BODY:
        return full
    note = f"\n\n… (truncated to GitHub's {MAX_BODY}-character limit; the full text is in PASS run `{run_id}`)"
    keep = MAX_BODY - len(footer) - len(note) - 2
    return f"{body[:keep]}{note}\n\n{footer}"


def _title(title: str) -> str:
    title = " ".join(title.split()) or "Untitled work item"
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1] + "…"


def _inline_title(prd: Prd) -> str:
    """The PRD's title set inside a line: on one line, nothing in it linked."""
    return quiet_everywhere(" ".join(prd.title.split()))


def _blocked_by(dep: str, numbers: Mapping[str, int], withheld: Mapping[str, SyncRefusal]) -> str:
    if dep in numbers:
        return f"Blocked by #{numbers[dep]}"
    if dep in withheld:
        return f"Blocked by `{dep}` (withheld from this repository: {quiet_everywhere(withheld[dep].reason)})"
    return f"Blocked by `{dep}` (not created on GitHub)"


def _because(item: WorkItem, dep: str) -> str:
    reason = " ".join(item.dependency_reasons.get(dep, "").split())
    return f": {reason}" if reason else ""


def render_item(
    item: WorkItem,
    prd: Prd,
    provenance: Provenance,
    *,
    numbers: Mapping[str, int],
    withheld: Mapping[str, SyncRefusal],
    pass_label: str,
) -> IssueDraft:
    # Everything quoted from the PRD or the plan is made inert (quiet_mentions for text that
    # starts a block, quiet_everywhere inside a line PASS writes); the "#N" references PASS
    # writes itself (dependencies, the tracking list) are meant to link.
    marker = Marker.for_item(provenance.run_id, item.key, provenance.plan_hash)
    sections = [marker.text, quiet_mentions(item.body.strip())]

    requirements = [r for r in (prd.requirement(rid) for rid in item.requirement_ids) if r is not None]
    criteria = item.acceptance_criteria or [c for r in requirements for c in r.acceptance_criteria]
    if criteria:
        sections.append("### Acceptance criteria\n" + "\n".join(f"- [ ] {quiet_everywhere(c)}" for c in criteria))
    if item.requirement_ids:
        lines = []
        for rid in item.requirement_ids:
            requirement = prd.requirement(rid)
            text = " ".join(requirement.text.split()) if requirement else "(not found in the PRD)"
            lines.append(f"- **{quiet_everywhere(rid)}**: {quiet_everywhere(text)}")
        sections.append(f"### Requirements served (PRD: {_inline_title(prd)})\n" + "\n".join(lines))
    if item.depends_on:
        sections.append(
            "### Dependencies\n"
            + "\n".join(f"- {_blocked_by(d, numbers, withheld)}{_because(item, d)}" for d in item.depends_on)
        )
    if item.estimate:
        sections.append(f"Estimate: **{quiet_everywhere(item.estimate)}** · PASS item `{item.key}`")

    body = _fit("\n\n".join(s for s in sections if s), provenance.footer(), provenance.run_id)
    labels = tuple(dict.fromkeys([pass_label, *item.labels]))
    return IssueDraft(key=item.key, title=_title(item.title), body=body, labels=labels)


def render_tracking(
    plan: Plan,
    prd: Prd,
    provenance: Provenance,
    *,
    numbers: Mapping[str, int],
    withheld: Mapping[str, SyncRefusal],
    pass_label: str,
) -> IssueDraft:
    marker = Marker.for_item(provenance.run_id, TRACKING_KEY, provenance.plan_hash)
    sections = [marker.text, f"Tracking issue for PASS run `{provenance.run_id}`: **{_inline_title(prd)}**"]
    # The summary is free text from the planner: never let a secret or a mention through it.
    if plan.summary.strip():
        sections.append(quiet_mentions(redact(plan.summary.strip())))

    lines = []
    for item in plan.items:
        if item.key in numbers:
            lines.append(f"- [ ] #{numbers[item.key]} (`{item.key}`)")
        elif item.key in withheld:
            lines.append(f"- `{item.key}` withheld: {quiet_everywhere(withheld[item.key].detail)}")
        else:
            lines.append(f"- `{item.key}` not created")
    sections.append("### Work items\n" + "\n".join(lines))

    coverage = []
    for requirement in prd.requirements:
        served = [f"#{numbers[i.key]}" for i in plan.items if requirement.id in i.requirement_ids and i.key in numbers]
        coverage.append(
            f"- **{quiet_everywhere(requirement.id)}**: {', '.join(served) if served else 'no published item'}"
        )
    if coverage:
        sections.append("### Requirement coverage\n" + "\n".join(coverage))

    body = _fit("\n\n".join(sections), provenance.footer(), provenance.run_id)
    return IssueDraft(key=TRACKING_KEY, title=_title(f"PASS: {prd.title}"), body=body, labels=(pass_label,))
