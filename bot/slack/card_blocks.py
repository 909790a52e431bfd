"""The run's status card (pure): the one message per run, updated in place as the run moves.

It shows where the run is (`progress_line`), what was planned (a summary: the whole backlog goes
to the thread, bot/slack/thread_blocks.py), why it stopped, the Approve / Choose items / Reject
buttons while it waits for approval, and the issues once synced. Which card a run has, and where,
is bot/slack/cards.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.check_names import plural
from bot.domain.earlier_sync import already_synced, issue_numbers, number_span
from bot.domain.models import Approval, Plan, PlanShape, Run, Severity, WorkItem
from bot.domain.money import usd
from bot.domain.status import RunStatus
from bot.domain.verification import plan_shape
from bot.slack import limits
from bot.slack.actions import ActionId, ButtonValue
from bot.slack.block_kit import Block, Message, context, divider, header, line_sections, message, mrkdwn, plain, section
from bot.slack.mrkdwn import clip, date, duration, esc, link, one_line, user

CARD_ITEMS = 8
CARD_PATH_KEYS = 8
CARD_ISSUE_LINKS = 10

STATUS_LABELS: dict[RunStatus, tuple[str, str]] = {
    RunStatus.QUEUED: (":inbox_tray:", "Queued"),
    RunStatus.CHECKING: (":mag:", "Checking requirements"),
    RunStatus.PLANNING: (":brain:", "Planning"),
    RunStatus.VERIFYING: (":test_tube:", "Verifying the backlog"),
    RunStatus.AWAITING_APPROVAL: (":raised_hand:", "Waiting for approval"),
    RunStatus.APPROVED: (":white_check_mark:", "Approved"),
    RunStatus.SYNCING: (":arrows_counterclockwise:", "Creating issues"),
    RunStatus.SYNCED: (":rocket:", "Synced"),
    RunStatus.REJECTED: (":no_entry_sign:", "Rejected"),
    RunStatus.BLOCKED: (":construction:", "Blocked"),
    RunStatus.FAILED: (":x:", "Failed"),
    RunStatus.EXPIRED: (":hourglass:", "Expired"),
    RunStatus.CANCELLED: (":heavy_multiplication_x:", "Cancelled"),
}
_STEPS: tuple[tuple[RunStatus, str], ...] = (
    (RunStatus.QUEUED, "queued"),
    (RunStatus.CHECKING, "checking"),
    (RunStatus.PLANNING, "planning"),
    (RunStatus.VERIFYING, "verifying"),
    (RunStatus.AWAITING_APPROVAL, "approval"),
    (RunStatus.SYNCING, "sync"),
    (RunStatus.SYNCED, "done"),
)


@dataclass(frozen=True)
class CardContext:
    """What the card shows beside the run, computed by the caller (policy, clock, live progress)."""

    now: datetime
    approvals_needed: int = 1
    approval_deadline: datetime | None = None
    sync_progress: tuple[int, int] | None = None


def run_title(run: Run) -> str:
    return one_line(run.prd.title) if run.prd else "a PRD"


def _elapsed(run: Run, now: datetime) -> str:
    end = run.updated_at if run.status.is_terminal else now
    return duration((end - run.created_at).total_seconds())


def _stopped_at(run: Run) -> RunStatus | None:
    """The step a blocked/failed run was in when it stopped."""
    steps = [t.status for t in run.history if t.status not in {RunStatus.BLOCKED, RunStatus.FAILED}]
    return steps[-1] if steps else RunStatus.QUEUED


def progress_line(run: Run) -> str:
    reached = {t.status for t in run.history} | {run.status}
    if RunStatus.SYNCED in reached:
        reached |= {RunStatus.SYNCING}
    if run.status in {RunStatus.APPROVED, RunStatus.SYNCING, RunStatus.SYNCED}:
        reached |= {RunStatus.AWAITING_APPROVAL}
    current = run.status
    if current in {RunStatus.BLOCKED, RunStatus.FAILED}:
        current = _stopped_at(run) or RunStatus.QUEUED
    if current is RunStatus.APPROVED:
        current = RunStatus.SYNCING
    order = [s for s, _ in _STEPS]
    position = order.index(current) if current in order else None
    marks = []
    for index, (status, name) in enumerate(_STEPS):
        if position is None:
            mark = "✓" if status in reached else "○"
        elif index < position:
            mark = "✓"
        elif index == position:
            if run.status in {RunStatus.BLOCKED, RunStatus.FAILED}:
                mark = "✗"
            elif run.status is RunStatus.SYNCED:
                mark = "✓"
            else:
                mark = "●"
        else:
            mark = "○"
        marks.append(f"{mark} {name}")
    return "  ›  ".join(marks)


def status_label(run: Run) -> tuple[str, str]:
    emoji, label = STATUS_LABELS[run.status]
    if run.status is RunStatus.SYNCED and run.sync.dry_run:
        return ":package:", "Staged (dry run: nothing was written to GitHub)"
    if run.status is RunStatus.BLOCKED:
        if any(not c.ok for c in run.requirements):
            return emoji, "Blocked: PASS needs something before it can go on"
        errors = len(run.verification.errors) if run.verification else 0
        return emoji, f"Blocked: the plan failed verification ({plural(errors, 'error')})"
    return emoji, label


def _facts(run: Run) -> str:
    asked = f"requested by {user(run.requester)}"
    if run.on_behalf_of:
        asked += f" on behalf of {user(run.on_behalf_of)}"
    parts = [f"Run `{esc(run.run_id)}`", asked]
    parts.append(f"repo `{esc(run.repo)}`" if run.repo else "no repo set")
    parts.append(f"planner `{esc(run.planner)}`")
    if run.isolation:
        parts.append(f"sandbox `{esc(run.isolation)}`")
    return " · ".join(parts)


def _item_line(item: WorkItem) -> str:
    return f"• `{esc(item.key)}` {esc(one_line(item.title))} _({esc(item.estimate)})_"


def _plan_summary(run: Run) -> list[Block]:
    if run.plan is None:
        return []
    plan = run.plan
    blocks: list[Block] = []
    if plan.summary.strip():
        blocks.append(section(esc(clip(one_line(plan.summary), 700))))
    errors = warnings = 0
    if run.verification:
        errors = sum(1 for f in run.verification.findings if f.severity is Severity.ERROR)
        warnings = sum(1 for f in run.verification.findings if f.severity is Severity.WARNING)
    covered = {rid for item in plan.items for rid in item.requirement_ids}
    total_reqs = len(run.prd.requirements) if run.prd else 0
    blocks.append(
        {
            "type": "section",
            "fields": [
                mrkdwn(f"*Work items*\n{len(plan.items)}"),
                mrkdwn(f"*Requirements covered*\n{len(covered & _req_ids(run))} of {total_reqs}"),
                mrkdwn(f"*Findings*\n{errors} error(s), {warnings} warning(s)"),
                mrkdwn(f"*Cost*\n{cost_text(run)}"),
            ],
        }
    )
    if plan.items:
        blocks.append(context(shape_text(run.verification.shape if run.verification else None, plan)))
    shown = plan.items[:CARD_ITEMS]
    lines = [_item_line(i) for i in shown]
    if len(plan.items) > len(shown):
        lines.append(f"_…and {len(plan.items) - len(shown)} more: the whole backlog is in the thread._")
    if lines:
        blocks.extend(line_sections(lines))
    return blocks


def shape_text(shape: PlanShape | None, plan: Plan) -> str:
    """How the backlog can be worked: its longest chain of "blocked by" and how much runs at once."""
    shape = shape or plan_shape(plan)
    path = shape.critical_path
    shown = " → ".join(f"`{esc(k)}`" for k in path[:CARD_PATH_KEYS]) + (" → …" if len(path) > CARD_PATH_KEYS else "")
    chain = f"{shape.critical_path_length} of {len(plan.items)} item(s)" + (f" ({shown})" if len(path) > 1 else "")
    return f":straight_ruler: Critical path {chain} · parallel width {shape.parallel_width} (items workable at once)"


def _req_ids(run: Run) -> set[str]:
    return {r.id for r in run.prd.requirements} if run.prd else set()


def cost_text(run: Run) -> str:
    u = run.usage
    if not (u.prompt_tokens or u.completion_tokens):
        return "no model calls"
    return f"{usd(u.cost_usd)} ({u.prompt_tokens:,} + {u.completion_tokens:,} tokens)"


def approval_buttons(run: Run) -> Block:
    assert run.plan_hash is not None
    value = ButtonValue(run_id=run.run_id, plan_hash=run.plan_hash).encode()
    items = len(run.plan.items) if run.plan else 0
    target = f"`{esc(run.repo)}`" if run.repo else "the dry-run folder (no repo is set)"
    earlier = run.earlier_sync
    if earlier is None:
        approve = _approve_button(
            ActionId.APPROVE,
            "Approve",
            value,
            f"PASS will create {items} issue(s) in {target}. This is the only step that writes.",
        )
        choices = [approve]
    else:
        span = number_span(issue_numbers(earlier))
        skip = _approve_button(
            ActionId.APPROVE,
            "Approve (skip)",
            value,
            f"PASS will write nothing: {target} already has this PRD's issues ({span}).",
        )
        update = _approve_button(
            ActionId.APPROVE_UPDATE,
            "Approve and update",
            value,
            f"PASS will rewrite {span} in {target} from this plan and create only items that run did not have.",
        )
        choices = [skip, update]
    return {
        "type": "actions",
        "block_id": f"decide:{run.run_id}",
        "elements": [
            *choices,
            {
                "type": "button",
                "action_id": ActionId.CHOOSE_ITEMS.value,
                "text": plain("Choose items…", limits.BUTTON_TEXT),
                "value": value,
            },
            {
                "type": "button",
                "action_id": ActionId.REJECT.value,
                "text": plain("Reject…", limits.BUTTON_TEXT),
                "style": "danger",
                "value": value,
            },
        ],
    }


def _approve_button(action: ActionId, label: str, value: str, consequence: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action.value,
        "text": plain(label, limits.BUTTON_TEXT),
        **({"style": "primary"} if action is ActionId.APPROVE else {}),
        "value": value,
        "confirm": {
            "title": plain("Approve this plan?", limits.CONFIRM_TITLE),
            "text": mrkdwn(f"{consequence} This is the only step that writes.", limits.CONFIRM_TEXT),
            "confirm": plain("Approve", limits.CONFIRM_BUTTON),
            "deny": plain("Not yet", limits.CONFIRM_BUTTON),
        },
    }


def _earlier_block(run: Run) -> Block:
    assert run.earlier_sync is not None
    return section(
        f":repeat: {esc(already_synced(run.earlier_sync))} *Approve (skip)* writes nothing; "
        "*Approve and update* rewrites those issues from this plan."
    )


def _decision(approvals: Sequence[Approval]) -> str:
    lines = []
    for a in approvals:
        verb = ":white_check_mark: Approved" if a.decision == "approve" else ":no_entry_sign: Rejected"
        reason = f": _{esc(clip(one_line(a.reason), 500))}_" if a.reason else ""
        lines.append(f"{verb} by {user(a.user)} {date(a.at)}{reason}")
    return "\n".join(lines)


def _sync_blocks(run: Run, ctx: CardContext) -> list[Block]:
    blocks: list[Block] = []
    if run.status is RunStatus.SYNCING and ctx.sync_progress:
        done, total = ctx.sync_progress
        blocks.append(section(f":arrows_counterclockwise: Creating issues: {done} of {total}"))
    if run.status is not RunStatus.SYNCED:
        return blocks
    result = run.sync
    links = [
        link(i.url, f"#{i.number} {i.key}") if i.url else f"`{esc(i.key)}`" for i in result.issues[:CARD_ISSUE_LINKS]
    ]
    if result.tracking and result.tracking.url:
        blocks.append(section(f"*Tracking issue:* {link(result.tracking.url, f'#{result.tracking.number}')}"))
    if links:
        more = len(result.issues) - len(links)
        tail = f" …and {more} more in the thread" if more > 0 else ""
        label = "Staged" if result.dry_run else "Issues"
        blocks.append(section(f"*{label}:* " + ", ".join(links) + tail))
    if result.refusals:
        blocks.append(section(f":shield: {len(result.refusals)} item(s) withheld by the sensitive-data guard."))
    if result.note:
        blocks.append(context(esc(clip(result.note, 1000))))
    return blocks


def _stop_blocks(run: Run) -> list[Block]:
    blocks: list[Block] = []
    missing = [c for c in run.requirements if not c.ok]
    if run.status is RunStatus.BLOCKED:
        if missing:
            lines = [f"• *{esc(c.name)}*: {esc(c.fix or 'missing')}" for c in missing[:10]]
            blocks.extend(line_sections(["*What PASS needs before it can go on:*", *lines]))
        errors = run.verification.errors if run.verification else []
        if errors:
            lines = ["*Verification found errors:*", *(f"• {esc(one_line(f.message))}" for f in errors[:10])]
            if len(errors) > 10:
                lines.append(f"_…and {len(errors) - 10} more in the thread_")
            blocks.extend(line_sections(lines))
    if run.status is RunStatus.FAILED and run.failure:
        f = run.failure
        blocks.append(section(f"*Failed while {esc(f.step)}:* {esc(clip(one_line(f.message), 1500))}"))
        if f.diagnosis.strip():
            blocks.append(section("```" + esc(clip(f.diagnosis.strip(), 1800)) + "```"))
    return blocks


def status_card(run: Run, ctx: CardContext) -> Message:
    """The run's one message. Buttons only while it waits for approval; afterwards, who decided."""
    emoji, label = status_label(run)
    blocks: list[Block] = [
        header(f"PASS · {run_title(run)}"),
        section(f"{emoji} *{label}* · {_elapsed(run, ctx.now)}\n{progress_line(run)}"),
        context(_facts(run)),
    ]
    if run.waiting:
        # Why nothing moves (a workspace slot, a GitHub rate limit): said, never silent.
        blocks.append(context(f":hourglass_flowing_sand: {esc(clip(run.waiting, 500))}"))
    if run.plan is not None:
        blocks.append(divider())
        blocks.extend(_plan_summary(run))
    blocks.extend(_stop_blocks(run))
    if run.status is RunStatus.AWAITING_APPROVAL and run.plan_hash:
        have = len({a.user for a in run.approvals if a.decision == "approve" and a.plan_hash == run.plan_hash})
        parts = [f"Approvals: {have} of {ctx.approvals_needed}"]
        if ctx.approval_deadline:
            parts.append(f"the plan expires {date(ctx.approval_deadline)}")
        parts.append("the requester may not approve their own run unless the policy allows it")
        blocks.append(divider())
        blocks.append(context(" · ".join(parts)))
        if have:
            blocks.append(section(_decision([a for a in run.approvals if a.plan_hash == run.plan_hash])))
        if run.earlier_sync is not None:
            blocks.append(_earlier_block(run))
        blocks.append(approval_buttons(run))
    elif run.approvals and run.status in {
        RunStatus.APPROVED,
        RunStatus.SYNCING,
        RunStatus.SYNCED,
        RunStatus.REJECTED,
        RunStatus.FAILED,
        RunStatus.BLOCKED,
    }:
        blocks.append(divider())
        blocks.append(section(_decision(run.approvals[-5:])))
    if run.status is RunStatus.EXPIRED:
        blocks.append(section("The approval window passed before anyone approved. Start a new run to plan again."))
    blocks.extend(_sync_blocks(run, ctx))
    return message(f"PASS run {run.run_id}: {label} — {run_title(run)}", blocks[: limits.MESSAGE_BLOCKS])
