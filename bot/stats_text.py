"""`passbot stats` for the terminal (pure: a MetricsSummary in, lines out)."""

from __future__ import annotations

from bot.domain.figures import duration, number, percent
from bot.domain.metrics import GroupMetrics, MetricsSummary


def _group(g: GroupMetrics) -> str:
    return (
        f"{g.runs:>4} runs  pass {percent(g.pass_rate):>4}  staged p50 {duration(g.lead_time_staged.p50):>7}"
        f"  synced p50 {duration(g.lead_time_synced.p50):>7}  retries {g.retry_loops:>3}"
        f"  tokens {number(g.tokens.total):>10}  ${g.cost_usd:,.2f}"
    )


def render_stats(summary: MetricsSummary) -> str:
    o = summary.overall
    lines = [
        f"PASS stats, last {summary.window} ({summary.since:%Y-%m-%d %H:%M} → {summary.until:%Y-%m-%d %H:%M} UTC)",
        "",
    ]
    if not o.runs:
        return "\n".join([*lines, "No runs in this window."])
    checked = o.verification_passed + o.verification_failed
    lines += [
        f"runs                     {o.runs}  ({', '.join(f'{k} {v}' for k, v in o.by_status.items())})",
        f"lead time to staged      p50 {duration(o.lead_time_staged.p50)}  p90 {duration(o.lead_time_staged.p90)}"
        f"  ({o.lead_time_staged.count} runs)",
        f"lead time to synced      p50 {duration(o.lead_time_synced.p50)}  p90 {duration(o.lead_time_synced.p90)}"
        f"  ({o.lead_time_synced.count} runs)",
        f"verification pass rate   {percent(o.pass_rate)}  ({o.verification_passed} of {checked})",
        f"retry loops              {o.retry_loops}  (in {o.runs_with_retries} runs)",
        f"tokens per run           p50 {number(o.tokens.p50 or 0)}  p90 {number(o.tokens.p90 or 0)}"
        f"  total {number(o.tokens.total)}  (${o.cost_usd:,.2f})",
        f"time to diagnosis        p50 {duration(o.time_to_diagnosis.p50)}  p90 {duration(o.time_to_diagnosis.p90)}"
        f"  ({o.failures} failures, {o.undiagnosed} not yet posted)",
    ]
    for title, groups in (("by repo", summary.by_repo), ("by channel", summary.by_channel), ("by day", summary.by_day)):
        lines += ["", title]
        lines += [f"  {g.key:<28} {_group(g)}" for g in groups]
    return "\n".join(lines)
