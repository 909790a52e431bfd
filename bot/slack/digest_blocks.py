"""A digest as Block Kit (pure). Untrusted text is escaped; every part is clipped to Slack's limits."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.digest import Digest, WaitingApproval
from bot.domain.figures import duration, number, percent, since
from bot.slack.block_kit import Block, context, divider, fields, header, lines_with_rest_counted, section
from bot.slack.mrkdwn import esc


def _local(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %d %b %H:%M")


def _where(w: WaitingApproval) -> str:
    parts = [f"<#{w.channel}>" if w.channel else "", f"`{esc(w.repo)}`" if w.repo else ""]
    return " · ".join(p for p in parts if p)


def _waiting_line(w: WaitingApproval) -> str:
    where = _where(w)
    flag = "⏰ " if w.overdue else ""
    return f"{flag}*{esc(w.title[:150])}* — run `{w.run_id}`, waiting {since(w.waited)}" + (
        f" · {where}" if where else ""
    )


MAX_MENTIONS = 20


def _nudge_lines(overdue: list[WaitingApproval]) -> list[str]:
    """One mention line per set of approvers, then their plans: each person is pinged once."""
    groups: dict[tuple[bool, tuple[str, ...]], list[WaitingApproval]] = {}
    for w in overdue:
        groups.setdefault((w.anyone_may_approve or not w.approvers, tuple(w.approvers)), []).append(w)
    lines: list[str] = []
    for (anyone, mentions), waiting in groups.items():
        if anyone:
            lines.append("Anyone in the workspace except the requester may approve:")
        else:
            shown = " ".join(mentions[:MAX_MENTIONS])
            extra = f" and {len(mentions) - MAX_MENTIONS} more" if len(mentions) > MAX_MENTIONS else ""
            lines.append(f"{shown}{extra}: please review")
        lines += [f"• *{esc(w.title[:120])}* (run `{w.run_id}`, {since(w.waited)})" for w in waiting]
    return lines


def _budget(d: Digest) -> str:
    if not d.daily_token_budget:
        return f"{number(d.tokens_today)} tokens"
    share = d.tokens_today / d.daily_token_budget
    warn = " ⚠️ over budget" if share > 1 else ""
    return f"{number(d.tokens_today)} of {number(d.daily_token_budget)} ({percent(share)}){warn}"


def digest_title(d: Digest) -> str:
    return f"PASS digest · {_local(d.slot or d.until, d.timezone)}"


def digest_blocks(d: Digest) -> list[Block]:
    blocks: list[Block] = [header(digest_title(d))]
    period = f"Runs since {_local(d.since, d.timezone)} ({esc(d.timezone)})"
    blocks.append(context(period if d.slot else f"{period} · sent on request"))
    if d.late_by is not None and d.slot is not None:
        blocks.append(
            section(
                f":warning: *This digest is late.* It was due {_local(d.slot, d.timezone)} and went out "
                f"{since(d.late_by)} later: PASS was not running at the time. Missed digests are not re-sent."
            )
        )
    if d.runs:
        blocks.append(fields([(label.capitalize(), str(count)) for label, count in d.outcomes.items()]))
    else:
        blocks.append(section("No runs in this period."))
    blocks.append(divider())
    blocks.append(
        fields(
            [
                (
                    "Verification pass rate",
                    f"{percent(d.pass_rate)} ({d.verification_passed} of "
                    f"{d.verification_passed + d.verification_failed})",
                ),
                (
                    "Lead time to staged",
                    f"p50 {duration(d.lead_time_staged.p50)} · p90 {duration(d.lead_time_staged.p90)}",
                ),
                (
                    "Lead time to synced",
                    f"p50 {duration(d.lead_time_synced.p50)} · p90 {duration(d.lead_time_synced.p90)}",
                ),
                ("Tokens this period", f"{number(d.tokens)} (${d.cost_usd:,.2f})"),
                ("Tokens today", _budget(d)),
            ]
        )
    )
    if d.waiting:
        overdue = len(d.overdue)
        note = f", {overdue} waiting over {since(d.nudge_after)}" if overdue else ""
        blocks.append(divider())
        blocks.append(section(f"*Approvals waiting: {len(d.waiting)}*{note} (oldest first)"))
        blocks.append(lines_with_rest_counted([_waiting_line(w) for w in d.waiting]))
        if overdue:
            blocks.append(
                lines_with_rest_counted(
                    [f":alarm_clock: *Waiting over {since(d.nudge_after)}*", *_nudge_lines(d.overdue)],
                    more="…and {n} more waiting too long",
                )
            )
    if d.failure_causes:
        blocks.append(divider())
        lines = ["*Most common failure causes*"] + [f"• {esc(cause)} — {n}" for cause, n in d.failure_causes]
        blocks.append(lines_with_rest_counted(lines))
    return blocks


def digest_text(d: Digest) -> str:
    """The notification / fallback text: one line a phone can show."""
    parts = [f"{d.runs} run(s)"]
    if d.outcomes:
        parts.append(", ".join(f"{n} {label}" for label, n in d.outcomes.items()))
    if d.waiting:
        parts.append(f"{len(d.waiting)} approval(s) waiting")
    late = " (late)" if d.late_by is not None else ""
    return f"{digest_title(d)}{late}: " + "; ".join(parts)
