"""Short answers to a command (pure): help, the latest runs, runs by state, an error, a verify result.

One-line answers are `block_kit.notice`; `/pass stats` is bot/slack/stats_blocks.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.domain.models import Run
from bot.slack.actions import COMMAND
from bot.slack.block_kit import Block, Message, context, line_sections, message, notice, section
from bot.slack.card_blocks import run_title, status_label
from bot.slack.commands import VERBS
from bot.slack.mrkdwn import clip, duration, esc
from bot.verify.repo import RepoVerification

HELP_LINES = (
    *(verb.usage for verb in VERBS.values()),
    "*`@PASS plan …`* works in any channel or thread PASS is in; the message shortcut "
    "*Plan with PASS* plans the text of any message.",
    "Nothing reaches GitHub until an allowed person clicks *Approve* on the plan's card.",
)


def help_message(reason: str | None = None) -> Message:
    lines = [f":wave: {esc(reason)}"] if reason else []
    lines += list(HELP_LINES)
    return message(
        "PASS: plan, verify and stage work from a PRD; ship only after a human approves.", line_sections(lines)
    )


def status_list(runs: Sequence[Run], now: datetime) -> Message:
    if not runs:
        return notice(f"No runs here yet. Start one with `{COMMAND} plan <PRD>`.")
    lines = ["*Latest runs*"]
    for run in runs:
        emoji, label = status_label(run)
        lines.append(
            f"{emoji} `{esc(run.run_id)}` {esc(clip(run_title(run), 80))} · {label} · "
            f"{duration((now - run.created_at).total_seconds())} ago"
        )
    return message("Latest PASS runs", line_sections(lines))


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
    parts += line_sections(lines)[:40]
    notes = [esc(clip(n, 200)) for n in result.notes][:5]
    parts.append(
        context(f"sandbox: {esc(result.isolation)}", *notes) if notes else context(f"sandbox: {esc(result.isolation)}")
    )
    return message(verdict, parts)
