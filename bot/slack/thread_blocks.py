"""The card's thread (pure): everything the card summarises, posted once the plan is staged.

The architecture pack, the backlog, the findings, the requirements artifact and the cost, each
paged under Slack's block limit (`thread_details`); once synced, every created issue when there are
more than the card shows (`synced_pages`). The full plan goes up as a file (bot/slack/plan_document.py).
"""

from __future__ import annotations

from bot.domain.check_names import check_name, verification_verdict
from bot.domain.models import Run, Severity, WorkItem
from bot.domain.money import usd
from bot.slack import limits
from bot.slack.block_kit import SECTION_BUDGET, Message, context, line_sections, message, paged, section
from bot.slack.card_blocks import CARD_ISSUE_LINKS, cost_text
from bot.slack.mrkdwn import clip, esc, from_markdown, link, one_line

_MARK = {Severity.ERROR: ":red_circle:", Severity.WARNING: ":large_yellow_circle:", Severity.INFO: ":white_circle:"}


def architecture_pages(run: Run) -> list[Message]:
    if run.plan is None:
        return []
    arch = run.plan.architecture
    lines: list[str] = []
    if arch.overview.strip():
        lines.append(esc(arch.overview.strip()))
    if arch.components:
        lines.append("*Components*")
        for c in arch.components:
            name = c.get("name", "")
            rest = c.get("responsibility", "") or ", ".join(f"{k}: {v}" for k, v in c.items() if k != "name")
            lines.append(f"• *{esc(one_line(name))}*: {esc(one_line(rest))}")
    for title, entries in arch.listed_sections():
        if entries:
            lines.append(f"*{title}*")
            lines.extend(f"• {esc(one_line(e))}" for e in entries)
    if not lines:
        return []
    return paged(":building_construction: Architecture", line_sections(lines), f"Architecture for run {run.run_id}")


BODY_READ = 3_000


def _item_detail(item: WorkItem) -> str:
    facts = [f"estimate {esc(item.estimate)}"]
    if item.requirement_ids:
        facts.append("serves " + ", ".join(f"`{esc(r)}`" for r in item.requirement_ids[:12]))
    if item.depends_on:
        facts.append("after " + ", ".join(f"`{esc(d)}`" for d in item.depends_on[:12]))
    if item.labels:
        facts.append("labels " + ", ".join(esc(lb) for lb in item.labels[:8]))
    text = f"*`{esc(item.key)}` {esc(one_line(item.title))}*\n_{' · '.join(facts)}_"
    # Only the start is shown (clipped below); converting a 200 KB body would stall the loop.
    body = from_markdown(item.body[:BODY_READ])
    if body:
        text += "\n" + clip(body, 900)
    # A body with its own checklist shows the criteria already (the heuristic planner writes one).
    if item.acceptance_criteria and "☐" not in body:
        text += "\n" + "\n".join(f"☐ {esc(clip(one_line(c), 300))}" for c in item.acceptance_criteria[:6])
        if len(item.acceptance_criteria) > 6:
            text += f"\n_…and {len(item.acceptance_criteria) - 6} more criteria in the attached plan_"
    return clip(text, SECTION_BUDGET)


def backlog_pages(run: Run, per_page: int = 20) -> list[Message]:
    if run.plan is None or not run.plan.items:
        return []
    items = run.plan.items
    pages: list[Message] = []
    chunks = [items[i : i + per_page] for i in range(0, len(items), per_page)]
    for number, chunk in enumerate(chunks, start=1):
        first = (number - 1) * per_page + 1
        title = f":clipboard: *Backlog* · items {first}–{first + len(chunk) - 1} of {len(items)}"
        blocks = [section(title), *[section(_item_detail(i)) for i in chunk]]
        pages.append(message(f"Backlog for run {run.run_id} ({number} of {len(chunks)})", blocks))
    return pages


def findings_pages(run: Run) -> list[Message]:
    if run.verification is None:
        return []
    findings = run.verification.findings
    lines = [verification_verdict(run.verification.passed, findings)]
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    for f in sorted(findings, key=lambda f: order[f.severity]):
        where = f" (`{esc(f.item_key)}`)" if f.item_key else ""
        lines.append(f"{_MARK[f.severity]} *{esc(check_name(f.check))}*{where}: {esc(one_line(f.message))}")
    return paged(":test_tube: Findings", line_sections(lines), f"Findings for run {run.run_id}")


def requirements_message(run: Run) -> Message | None:
    """The requirements artifact: each precondition, met or not, with the exact fix."""
    if not run.requirements:
        return None
    lines = [
        f"{'✓' if c.ok else '✗'} *{esc(c.name)}*" + (f": {esc(c.fix)}" if c.fix and not c.ok else "")
        for c in run.requirements
    ]
    blocks = [section("*:white_check_mark: Requirements*"), *line_sections(lines)]
    return message(f"Requirements for run {run.run_id}", blocks[: limits.MESSAGE_BLOCKS])


def cost_message(run: Run) -> Message:
    u = run.usage
    parts = [f"Planner `{esc(run.planner)}`", f"cost {cost_text(run)}"]
    if run.retries:
        parts.append(f"{run.retries} repair round(s)")
    if run.prd:
        parts.append(f"PRD `{run.prd.sha256[:12]}` ({len(run.prd.requirements)} requirements)")
    if run.plan_hash:
        parts.append(f"plan hash `{run.plan_hash[:12]}`")
    text = " · ".join(parts)
    return message(f"Usage for run {run.run_id}: {usd(u.cost_usd)}", [context(text)])


def thread_details(run: Run) -> list[Message]:
    """Everything the card summarises, in reading order."""
    out: list[Message] = []
    out += architecture_pages(run)
    out += backlog_pages(run)
    out += findings_pages(run)
    requirements = requirements_message(run)
    if requirements:
        out.append(requirements)
    out.append(cost_message(run))
    return out


def synced_pages(run: Run) -> list[Message]:
    """Every created issue, when there are more than the card shows."""
    issues = run.sync.issues
    if len(issues) <= CARD_ISSUE_LINKS:
        return []
    lines = [link(i.url, f"#{i.number} {i.key}") if i.url else f"`{esc(i.key)}`" for i in issues]
    title = (
        ":package: Staged issues (dry run: nothing was written to GitHub)" if run.sync.dry_run else ":rocket: Issues"
    )
    return paged(title, line_sections(lines), f"Issues for run {run.run_id}")
