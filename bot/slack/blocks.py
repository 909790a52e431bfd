"""Every Block Kit payload PASS sends, from pure functions (a run in, a dict out).

- `status_card`: the one message per run, updated in place as the run moves.
- `thread_details`: the architecture pack, the backlog (paged), findings, requirements and cost,
  posted into the card's thread once the plan is staged (or the run stops).
- modals (`reject_modal`, `select_items_modal`) and short answers (`help_message`, `notice` …).

Everything stays inside Slack's limits (bot/slack/limits.py): the card summarises, the thread
pages the rest, and the full plan goes up as a markdown file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.models import Approval, Run, Severity, WorkItem
from bot.domain.status import RunStatus
from bot.slack import limits
from bot.slack.actions import (
    COMMAND,
    REJECT_REASON_BLOCK,
    REJECT_REASON_INPUT,
    SELECT_BLOCK_PREFIX,
    SELECT_INPUT,
    ActionId,
    ButtonValue,
    ModalContext,
    ViewId,
)
from bot.slack.mrkdwn import clip, date, duration, esc, link, one_line, user
from bot.verify.repo import RepoVerification

Block = dict[str, Any]
Message = dict[str, Any]
View = dict[str, Any]

# Room under Slack's limits for the words around untrusted text.
SECTION_BUDGET = limits.SECTION_TEXT - 100
PAGE_BLOCKS = 45
CARD_ITEMS = 8
CARD_ISSUE_LINKS = 10
MODAL_MAX_ITEMS = (limits.MODAL_BLOCKS - 4) * limits.CHECKBOX_OPTIONS

_LABEL: dict[RunStatus, tuple[str, str]] = {
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
_MARK = {Severity.ERROR: ":red_circle:", Severity.WARNING: ":large_yellow_circle:", Severity.INFO: ":white_circle:"}


@dataclass(frozen=True)
class CardContext:
    """What the card shows beside the run, computed by the caller (policy, clock, live progress)."""

    now: datetime
    approvals_needed: int = 1
    approval_deadline: datetime | None = None
    sync_progress: tuple[int, int] | None = None


# --- primitives ---------------------------------------------------------------------------------


def plain(text: str, limit: int = limits.SECTION_TEXT) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": True}


def mrkdwn(text: str, limit: int = limits.SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit) or " "}


def section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(text)}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, limits.HEADER_TEXT)}


def context(*parts: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(p) for p in parts[: limits.CONTEXT_ELEMENTS] if p]}


def divider() -> Block:
    return {"type": "divider"}


def message(text: str, blocks: list[Block]) -> Message:
    return {"text": clip(text, 300), "blocks": blocks}


def notice(text: str) -> Message:
    """A one-paragraph answer (mrkdwn already escaped by the caller where it holds user text)."""
    return message(text, [section(text)])


def _sections(lines: Iterable[str], budget: int = SECTION_BUDGET) -> list[Block]:
    """Lines packed into as few sections as fit; a single over-long line is clipped."""
    out: list[Block] = []
    chunk = ""
    for line in lines:
        line = clip(line, budget)
        if chunk and len(chunk) + 1 + len(line) > budget:
            out.append(section(chunk))
            chunk = line
        else:
            chunk = f"{chunk}\n{line}" if chunk else line
    if chunk:
        out.append(section(chunk))
    return out


def _pages(title: str, blocks: list[Block], fallback: str) -> list[Message]:
    """Blocks split into messages under the block limit, each titled "page i of n"."""
    size = PAGE_BLOCKS - 1
    chunks = [blocks[i : i + size] for i in range(0, len(blocks), size)] or [[]]
    total = len(chunks)
    pages = []
    for number, chunk in enumerate(chunks, start=1):
        suffix = f" ({number} of {total})" if total > 1 else ""
        pages.append(message(f"{fallback}{suffix}", [section(f"*{title}*{suffix}"), *chunk]))
    return pages


# --- the status card ----------------------------------------------------------------------------


def _title(run: Run) -> str:
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


def _status_label(run: Run) -> tuple[str, str]:
    emoji, label = _LABEL[run.status]
    if run.status is RunStatus.SYNCED and run.sync.dry_run:
        return ":package:", "Staged (dry run: nothing was written to GitHub)"
    if run.status is RunStatus.BLOCKED:
        return emoji, "Blocked: something PASS needs is missing"
    return emoji, label


def _facts(run: Run) -> str:
    parts = [f"Run `{esc(run.run_id)}`", f"requested by {user(run.requester)}"]
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
                mrkdwn(f"*Cost*\n{_cost(run)}"),
            ],
        }
    )
    shown = plan.items[:CARD_ITEMS]
    lines = [_item_line(i) for i in shown]
    if len(plan.items) > len(shown):
        lines.append(f"_…and {len(plan.items) - len(shown)} more: the whole backlog is in the thread._")
    if lines:
        blocks.extend(_sections(lines))
    return blocks


def _req_ids(run: Run) -> set[str]:
    return {r.id for r in run.prd.requirements} if run.prd else set()


def _cost(run: Run) -> str:
    u = run.usage
    if not (u.prompt_tokens or u.completion_tokens):
        return "no model calls"
    return f"${u.cost_usd:.4f} ({u.prompt_tokens:,} + {u.completion_tokens:,} tokens)"


def approval_buttons(run: Run) -> Block:
    assert run.plan_hash is not None
    value = ButtonValue(run_id=run.run_id, plan_hash=run.plan_hash).encode()
    items = len(run.plan.items) if run.plan else 0
    target = f"`{esc(run.repo)}`" if run.repo else "the dry-run folder (no repo is set)"
    return {
        "type": "actions",
        "block_id": f"decide:{run.run_id}",
        "elements": [
            {
                "type": "button",
                "action_id": ActionId.APPROVE.value,
                "text": plain("Approve", limits.BUTTON_TEXT),
                "style": "primary",
                "value": value,
                "confirm": {
                    "title": plain("Approve this plan?", limits.CONFIRM_TITLE),
                    "text": mrkdwn(
                        f"PASS will create {items} issue(s) in {target}. This is the only step that writes.",
                        limits.CONFIRM_TEXT,
                    ),
                    "confirm": plain("Approve", limits.CONFIRM_BUTTON),
                    "deny": plain("Not yet", limits.CONFIRM_BUTTON),
                },
            },
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
            blocks.extend(_sections(["*What PASS needs before it can go on:*", *lines]))
        errors = run.verification.errors if run.verification else []
        if errors:
            lines = ["*Verification found errors:*", *(f"• {esc(one_line(f.message))}" for f in errors[:10])]
            if len(errors) > 10:
                lines.append(f"_…and {len(errors) - 10} more in the thread_")
            blocks.extend(_sections(lines))
    if run.status is RunStatus.FAILED and run.failure:
        f = run.failure
        blocks.append(section(f"*Failed while {esc(f.step)}:* {esc(clip(one_line(f.message), 1500))}"))
        if f.diagnosis.strip():
            blocks.append(section("```" + esc(clip(f.diagnosis.strip(), 1800)) + "```"))
    return blocks


def status_card(run: Run, ctx: CardContext) -> Message:
    """The run's one message. Buttons only while it waits for approval; afterwards, who decided."""
    emoji, label = _status_label(run)
    blocks: list[Block] = [
        header(f"PASS · {_title(run)}"),
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
    return message(f"PASS run {run.run_id}: {label} — {_title(run)}", blocks[: limits.MESSAGE_BLOCKS])


# --- thread details -----------------------------------------------------------------------------


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
    for title, entries in (
        ("Data flow", arch.data_flow),
        ("Interfaces", arch.interfaces),
        ("Risks", arch.risks),
        ("Open questions", arch.open_questions),
    ):
        if entries:
            lines.append(f"*{title}*")
            lines.extend(f"• {esc(one_line(e))}" for e in entries)
    if not lines:
        return []
    return _pages(":building_construction: Architecture", _sections(lines), f"Architecture for run {run.run_id}")


def _item_detail(item: WorkItem) -> str:
    facts = [f"estimate {esc(item.estimate)}"]
    if item.requirement_ids:
        facts.append("serves " + ", ".join(f"`{esc(r)}`" for r in item.requirement_ids[:12]))
    if item.depends_on:
        facts.append("after " + ", ".join(f"`{esc(d)}`" for d in item.depends_on[:12]))
    if item.labels:
        facts.append("labels " + ", ".join(esc(lb) for lb in item.labels[:8]))
    text = f"*`{esc(item.key)}` {esc(one_line(item.title))}*\n_{' · '.join(facts)}_"
    body = one_line(item.body)
    if body:
        text += "\n" + esc(clip(body, 900))
    if item.acceptance_criteria:
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
    verdict = "passed" if run.verification.passed else "*failed*"
    lines = [f"Verification {verdict}: {len(findings)} finding(s)."]
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    for f in sorted(findings, key=lambda f: order[f.severity]):
        where = f" (`{esc(f.item_key)}`)" if f.item_key else ""
        lines.append(f"{_MARK[f.severity]} *{esc(f.check)}*{where}: {esc(one_line(f.message))}")
    return _pages(":test_tube: Findings", _sections(lines), f"Findings for run {run.run_id}")


def requirements_message(run: Run) -> Message | None:
    """The requirements artifact: each precondition, met or not, with the exact fix."""
    if not run.requirements:
        return None
    lines = [
        f"{'✓' if c.ok else '✗'} *{esc(c.name)}*" + (f": {esc(c.fix)}" if c.fix and not c.ok else "")
        for c in run.requirements
    ]
    blocks = [section("*:white_check_mark: Requirements*"), *_sections(lines)]
    return message(f"Requirements for run {run.run_id}", blocks[: limits.MESSAGE_BLOCKS])


def cost_message(run: Run) -> Message:
    u = run.usage
    parts = [f"Planner `{esc(run.planner)}`", f"cost {_cost(run)}"]
    if run.retries:
        parts.append(f"{run.retries} repair round(s)")
    if run.prd:
        parts.append(f"PRD `{run.prd.sha256[:12]}` ({len(run.prd.requirements)} requirements)")
    if run.plan_hash:
        parts.append(f"plan hash `{run.plan_hash[:12]}`")
    text = " · ".join(parts)
    return message(f"Usage for run {run.run_id}: ${u.cost_usd:.4f}", [context(text)])


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
    return _pages(":rocket: Created issues", _sections(lines), f"Issues for run {run.run_id}")


# --- modals -------------------------------------------------------------------------------------


def reject_modal(run: Run, ctx: ModalContext) -> View:
    return {
        "type": "modal",
        "callback_id": ViewId.REJECT.value,
        "private_metadata": ctx.encode(),
        "title": plain("Reject plan", limits.MODAL_TITLE),
        "submit": plain("Reject", limits.MODAL_BUTTON),
        "close": plain("Cancel", limits.MODAL_BUTTON),
        "blocks": [
            section(f"Rejecting *{esc(clip(_title(run), 200))}* (run `{esc(run.run_id)}`). Nothing will be created."),
            {
                "type": "input",
                "block_id": REJECT_REASON_BLOCK,
                "label": plain("Why?", 100),
                "hint": plain("Shown on the card and kept in the audit log.", 150),
                "element": {
                    "type": "plain_text_input",
                    "action_id": REJECT_REASON_INPUT,
                    "multiline": True,
                    "max_length": 1000,
                    "placeholder": plain("e.g. split the PRD first; the auth items are out of scope", 150),
                },
            },
        ],
    }


def select_items_modal(run: Run, ctx: ModalContext) -> View:
    """Checkboxes, ten to a group (Slack's limit), every item ticked to start with."""
    items = run.plan.items[:MODAL_MAX_ITEMS] if run.plan else []
    blocks: list[Block] = [
        section(
            f"Untick what should *not* become an issue, then approve. The approval covers exactly the "
            f"items left ticked ({len(items)} now)."
        )
    ]
    for group, start in enumerate(range(0, len(items), limits.CHECKBOX_OPTIONS)):
        chunk = items[start : start + limits.CHECKBOX_OPTIONS]
        options = [
            {
                "text": plain(f"{i.key} · {one_line(i.title)}", limits.OPTION_TEXT),
                "description": plain(
                    f"{i.estimate} · serves {', '.join(i.requirement_ids) or 'no requirement'}",
                    limits.OPTION_DESCRIPTION,
                ),
                "value": clip(i.key, limits.OPTION_VALUE),
            }
            for i in chunk
        ]
        blocks.append(
            {
                "type": "input",
                "block_id": f"{SELECT_BLOCK_PREFIX}{group}",
                "optional": True,
                "label": plain(f"Items {start + 1}–{start + len(chunk)}", 100),
                "element": {
                    "type": "checkboxes",
                    "action_id": SELECT_INPUT,
                    "options": options,
                    "initial_options": options,
                },
            }
        )
    return {
        "type": "modal",
        "callback_id": ViewId.SELECT_ITEMS.value,
        "private_metadata": ctx.encode(),
        "title": plain("Choose items", limits.MODAL_TITLE),
        "submit": plain("Approve selected", limits.MODAL_BUTTON),
        "close": plain("Cancel", limits.MODAL_BUTTON),
        "blocks": blocks,
    }


# --- short answers ------------------------------------------------------------------------------

HELP_LINES = (
    f"*`{COMMAND} plan <PRD>`*: plan a PRD pasted as text, a link to a file shared in Slack, or "
    "`owner/name:path/to/prd.md`. Add `repo=owner/name` to choose where issues go.",
    f"*`{COMMAND} status [run]`*: one run, or the latest runs in this channel.",
    f"*`{COMMAND} stats [7d|30d]`*: lead time, verification pass rate, retry loops, token spend, time to diagnosis.",
    f"*`{COMMAND} digest`*: post this channel's digest now (schedules live in policies/digests.yml).",
    f"*`{COMMAND} verify owner/name`*: run the repo's lint, type, test and security checks in the sandbox.",
    f"*`{COMMAND} help`*: this message.",
    "*`@PASS plan …`* works in any channel or thread PASS is in; the message shortcut "
    "*Plan with PASS* plans the text of any message.",
    "Nothing reaches GitHub until an allowed person clicks *Approve* on the plan's card.",
)


def help_message(reason: str | None = None) -> Message:
    lines = [f":wave: {esc(reason)}"] if reason else []
    lines += list(HELP_LINES)
    return message("PASS: plan, verify and stage work from a PRD; ship only after a human approves.", _sections(lines))


def status_list(runs: Sequence[Run], now: datetime) -> Message:
    if not runs:
        return notice(f"No runs here yet. Start one with `{COMMAND} plan <PRD>`.")
    lines = ["*Latest runs*"]
    for run in runs:
        emoji, label = _status_label(run)
        lines.append(
            f"{emoji} `{esc(run.run_id)}` {esc(clip(_title(run), 80))} · {label} · "
            f"{duration((now - run.created_at).total_seconds())} ago"
        )
    return message("Latest PASS runs", _sections(lines))


def stats_message(counts: dict[RunStatus, int], scanned: int) -> Message:
    fields = [mrkdwn(f"*{_LABEL[s][1]}*\n{n}") for s, n in counts.items() if n][: limits.SECTION_FIELDS]
    blocks: list[Block] = [section(f"*PASS runs by state* (latest {scanned})")]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    return message(f"PASS runs by state (latest {scanned})", blocks)


def error_message(what: str, run_id: str | None, reference: str) -> Message:
    about = f" (run `{esc(run_id)}`)" if run_id else ""
    text = (
        f":warning: Something went wrong while {esc(what)}{about}. It is logged as `{esc(reference)}`; "
        "nothing was approved or written. Try again, or tell whoever runs PASS."
    )
    return notice(text)


def verification_message(repo: str, result: RepoVerification) -> Message:
    """`/pass verify`: the verdict, the first failure's likely cause, then each finding (clipped)."""
    errors = [f for f in result.findings if f.severity.value == "error"]
    verdict = (
        f":white_check_mark: `{esc(repo)}`: all {len(result.checks)} checks passed"
        if result.passed
        else f":x: `{esc(repo)}`: {len(errors)} problem(s) found"
    )
    parts: list[Block] = [section(verdict)]
    if result.diagnosis is not None:
        parts.append(section(f"*Likely cause:* {esc(clip(result.diagnosis.likely_cause, 500))}"))
    lines = [f"• *{esc(f.check)}*: {esc(clip(f.message, 300))}" for f in errors[:30]]
    if len(errors) > 30:
        lines.append(f"… and {len(errors) - 30} more (run `passbot verify {esc(repo)} --json` for all)")
    parts += _sections(lines)[:40]
    notes = [esc(clip(n, 200)) for n in result.notes][:5]
    parts.append(
        context(f"sandbox: {esc(result.isolation)}", *notes) if notes else context(f"sandbox: {esc(result.isolation)}")
    )
    return message(verdict, parts)
