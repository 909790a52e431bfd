"""`GET /metrics`: the five metrics, queue depth and runs by state, in Prometheus text.

Every scrape builds a fresh `CollectorRegistry` from the run records in Redis, so any replica
answers the same and nothing is kept in process memory. The values describe the runs submitted
in the last `window` (30 days by default), which makes them gauges: they can go down as old runs
leave the window. Per-run values become p50/p90 gauges (`quantile` label) overall, and count/sum
gauges per channel and repo, from which dashboards can divide.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from bot.domain.metrics import Distribution, GroupMetrics, MetricsSummary, group_by, metrics_summary
from bot.domain.models import Run, utcnow
from bot.domain.status import RunStatus
from bot.errors import StoreUnavailable

WINDOW = timedelta(days=30)
MAX_RUNS = 10_000
QueueDepth = Callable[[], Awaitable[int]]
# The classic text format every Prometheus-compatible scraper reads (names here are plain ASCII).
METRICS_CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


class RunSource(Protocol):
    async def list_runs(self, *, limit: int = ..., since: datetime | None = None) -> list[Run]: ...


def _quantiles(gauge: Gauge, dist: Distribution, **labels: str) -> None:
    for quantile, value in (("0.5", dist.p50), ("0.9", dist.p90)):
        if value is not None:
            gauge.labels(quantile=quantile, **labels).set(value)


def build_registry(summary: MetricsSummary, runs: list[Run], queue_depth: int | None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    group_labels = ["channel", "repo"]

    def gauge(name: str, doc: str, labels: list[str] | None = None) -> Gauge:
        return Gauge(name, doc, labels or [], registry=registry)

    gauge("pass_metrics_window_seconds", "Runs submitted this long ago or less are counted").set(
        (summary.until - summary.since).total_seconds()
    )
    by_state = gauge("pass_runs", "Runs submitted in the window, by current state", ["state"])
    for state in RunStatus:
        by_state.labels(state=state.value).set(sum(1 for r in runs if r.status is state))
    if queue_depth is not None:
        gauge("pass_queue_depth", "Jobs waiting in the work queue").set(queue_depth)

    overall = summary.overall
    lead = gauge("pass_lead_time_seconds", "Submitted to staged / synced, p50 and p90", ["stage", "quantile"])
    _quantiles(lead, overall.lead_time_staged, stage="staged")
    _quantiles(lead, overall.lead_time_synced, stage="synced")
    tokens_q = gauge("pass_tokens_per_run", "Prompt + completion tokens per run, p50 and p90", ["quantile"])
    _quantiles(tokens_q, overall.tokens)
    ttd = gauge("pass_time_to_diagnosis_seconds", "Failure seen to diagnosis posted, p50 and p90", ["quantile"])
    _quantiles(ttd, overall.time_to_diagnosis)
    if overall.pass_rate is not None:
        gauge("pass_verification_pass_ratio", "Share of verified backlogs that passed").set(overall.pass_rate)
    gauge("pass_failures_undiagnosed", "Failed runs whose diagnosis has not been posted").set(overall.undiagnosed)

    per_group: list[tuple[str, str, Callable[[GroupMetrics], float]]] = [
        ("pass_group_runs", "Runs submitted in the window", lambda g: g.runs),
        ("pass_retry_loops", "Planner repair rounds plus resumed syncs", lambda g: g.retry_loops),
        ("pass_prompt_tokens", "Prompt tokens spent", lambda g: g.prompt_tokens),
        ("pass_completion_tokens", "Completion tokens spent", lambda g: g.completion_tokens),
        ("pass_cost_usd", "Model spend in USD", lambda g: g.cost_usd),
        ("pass_failures", "Runs with a failure", lambda g: g.failures),
        ("pass_lead_time_staged_seconds_sum", "Sum of lead times to staged", lambda g: g.lead_time_staged.total),
        ("pass_lead_time_staged_runs", "Runs that reached staged", lambda g: g.lead_time_staged.count),
        ("pass_lead_time_synced_seconds_sum", "Sum of lead times to synced", lambda g: g.lead_time_synced.total),
        ("pass_lead_time_synced_runs", "Runs that reached synced", lambda g: g.lead_time_synced.count),
        ("pass_time_to_diagnosis_seconds_sum", "Sum of times to diagnosis", lambda g: g.time_to_diagnosis.total),
        ("pass_time_to_diagnosis_runs", "Failures with a posted diagnosis", lambda g: g.time_to_diagnosis.count),
    ]
    gauges = [(gauge(name, doc, group_labels), value) for name, doc, value in per_group]
    verdicts = gauge("pass_verification_verdicts", "Backlog verdicts", [*group_labels, "result"])
    for group in group_by(summary.runs, lambda m: f"{m.channel}\0{m.repo}"):
        channel, repo = group.key.split("\0")
        for g, value in gauges:
            g.labels(channel=channel, repo=repo).set(value(group))
        verdicts.labels(channel=channel, repo=repo, result="passed").set(group.verification_passed)
        verdicts.labels(channel=channel, repo=repo, result="failed").set(group.verification_failed)
    return registry


async def render_metrics(
    store: RunSource,
    queue_depth: QueueDepth | None,
    *,
    window: timedelta = WINDOW,
    now: datetime | None = None,
) -> bytes:
    """The Prometheus text exposition (format 0.0.4) of a fresh registry built from the store."""
    until = now or utcnow()
    runs = await store.list_runs(limit=MAX_RUNS, since=until - window)
    summary = metrics_summary(runs, window, now=until)
    depth = await queue_depth() if queue_depth is not None else None
    in_window = [r for r in runs if summary.since <= r.created_at <= until]
    return generate_latest(build_registry(summary, in_window, depth))


def metrics_handler(
    store: RunSource, queue_depth: QueueDepth | None = None
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An aiohttp handler: `app.router.add_get("/metrics", metrics_handler(store, depth))`."""

    async def handle(request: web.Request) -> web.Response:
        try:
            body = await render_metrics(store, queue_depth)
        except StoreUnavailable:
            return web.Response(status=503, text="redis unavailable\n")
        return web.Response(body=body, headers={"Content-Type": METRICS_CONTENT_TYPE})

    return handle
