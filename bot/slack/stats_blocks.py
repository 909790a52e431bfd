"""`/pass stats` as Block Kit (pure): the five metrics overall, then per repo, channel and day."""

from __future__ import annotations

from bot.domain.figures import duration, number, percent
from bot.domain.metrics import GroupMetrics, MetricsSummary
from bot.slack.block_kit import Block, context, divider, fields, header, lines_with_rest_counted, section
from bot.slack.mrkdwn import esc


def _group_line(g: GroupMetrics, label: str) -> str:
    return (
        f"{label} — {g.runs} run(s) · pass {percent(g.pass_rate)} · staged p50 {duration(g.lead_time_staged.p50)}"
        f" · synced p50 {duration(g.lead_time_synced.p50)} · {number(g.tokens.total)} tokens"
        f" · {g.retry_loops} retries"
    )


def overall_fields(g: GroupMetrics) -> Block:
    return fields(
        [
            ("Runs", f"{g.runs} ({g.failures} with a failure)"),
            (
                "Verification pass rate",
                f"{percent(g.pass_rate)} ({g.verification_passed} of {g.verification_passed + g.verification_failed})",
            ),
            (
                "Lead time to staged",
                f"p50 {duration(g.lead_time_staged.p50)} · p90 {duration(g.lead_time_staged.p90)}",
            ),
            ("Lead time to synced", f"p50 {duration(g.lead_time_synced.p50)} · p90 {duration(g.lead_time_synced.p90)}"),
            ("Retry loops", f"{g.retry_loops} in {g.runs_with_retries} run(s)"),
            (
                "Tokens per run",
                f"p50 {number(g.tokens.p50 or 0)} · p90 {number(g.tokens.p90 or 0)} · total {number(g.tokens.total)}"
                f" (${g.cost_usd:,.2f})",
            ),
            (
                "Time to diagnosis",
                f"p50 {duration(g.time_to_diagnosis.p50)} · p90 {duration(g.time_to_diagnosis.p90)}"
                + (f" · {g.undiagnosed} not yet posted" if g.undiagnosed else ""),
            ),
        ]
    )


def stats_blocks(summary: MetricsSummary) -> list[Block]:
    blocks: list[Block] = [
        header(f"PASS stats · last {summary.window}"),
        context(f"{summary.since:%Y-%m-%d %H:%M} → {summary.until:%Y-%m-%d %H:%M} UTC · runs by submission time"),
    ]
    if not summary.overall.runs:
        blocks.append(section("No runs in this window."))
        return blocks
    blocks.append(overall_fields(summary.overall))
    for title, groups, fmt in (
        ("By repo", summary.by_repo, lambda k: f"`{esc(k)}`"),
        ("By channel", summary.by_channel, lambda k: "no channel" if k == "none" else f"<#{esc(k)}>"),
        ("By day", summary.by_day, lambda k: k),
    ):
        blocks.append(divider())
        ordered = groups if title == "By day" else sorted(groups, key=lambda g: (-g.runs, g.key))
        blocks.append(lines_with_rest_counted([f"*{title}*", *(_group_line(g, fmt(g.key)) for g in ordered)]))
    return blocks
