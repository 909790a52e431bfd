"""How the factory runs: the five metrics, computed from run records alone (pure).

Definitions (durations in seconds, all from timestamps stored on the run):

- **lead time to staged**: submitted (`Run.created_at`) → first entered `awaiting_approval`.
- **lead time to synced**: submitted → entered `synced` (issues written).
- **verification pass rate**: of the runs whose backlog got a verdict — they left `verifying` for
  `awaiting_approval` (passed) or for `blocked` (failed) — the share that passed. Runs that
  crashed while verifying, or never got there, have no verdict and do not count.
- **retry loops**: how often a run went round again: the planner's repair rounds (`Run.retries`)
  plus every resumed sync (a `failed → approved` transition).
- **token spend**: prompt + completion tokens and USD cost of the run's model calls.
- **time to diagnosis**: failure seen (`Failure.at`) → diagnosis posted (`Failure.diagnosed_at`,
  stamped by whoever delivered it to the person, e.g. the Slack thread). A run with no channel
  (CLI, API) has no one to post to: its diagnosis is delivered with the run record the moment
  the run enters `failed`, so that moment counts. A Slack run whose diagnosis was never posted
  has no time-to-diagnosis and is counted as `undiagnosed`: visible, not hidden in an average.

Percentiles interpolate linearly between closest ranks (numpy's default): p50 of 1, 2, 3, 4 is 2.5.
Runs are grouped per day (of submission, in the caller's time zone), per channel and per repo;
a missing channel or repo is grouped as `none`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.domain.models import Run, utcnow
from bot.domain.status import RunStatus
from bot.domain.windows import parse_window

NONE = "none"
Verdict = Literal["passed", "failed"]


class _Value(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Distribution(_Value):
    """A set of per-run values summarised: how many, total, mean, median and 90th percentile."""

    count: int = 0
    total: float = 0.0
    mean: float | None = None
    p50: float | None = None
    p90: float | None = None
    max: float | None = None


class RunMetrics(_Value):
    run_id: str
    status: str
    created_at: datetime
    day: str
    channel: str
    repo: str
    lead_time_staged_s: float | None
    lead_time_synced_s: float | None
    verification: Verdict | None
    retry_loops: int
    prompt_tokens: int
    completion_tokens: int
    tokens: int
    cost_usd: float
    failed: bool
    time_to_diagnosis_s: float | None


class GroupMetrics(_Value):
    key: str
    runs: int
    by_status: dict[str, int]
    lead_time_staged: Distribution
    lead_time_synced: Distribution
    verification_passed: int
    verification_failed: int
    pass_rate: float | None
    retry_loops: int
    runs_with_retries: int
    tokens: Distribution
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    failures: int
    time_to_diagnosis: Distribution
    undiagnosed: int


class MetricsSummary(_Value):
    window: str
    since: datetime
    until: datetime
    overall: GroupMetrics
    by_day: list[GroupMetrics]
    by_channel: list[GroupMetrics]
    by_repo: list[GroupMetrics]
    runs: list[RunMetrics]


def percentile(values: Iterable[float], q: float) -> float | None:
    """Linear interpolation between closest ranks; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def distribution(values: Iterable[float]) -> Distribution:
    xs = list(values)
    if not xs:
        return Distribution()
    total = sum(xs)
    return Distribution(
        count=len(xs),
        total=total,
        mean=total / len(xs),
        p50=percentile(xs, 0.5),
        p90=percentile(xs, 0.9),
        max=max(xs),
    )


def _seconds(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else (end - start).total_seconds()


def verification_verdict(run: Run) -> Verdict | None:
    """What left `verifying` decided: the transition right after it."""
    for before, after in zip(run.history, run.history[1:], strict=False):
        if before.status is RunStatus.VERIFYING:
            if after.status is RunStatus.AWAITING_APPROVAL:
                return "passed"
            if after.status is RunStatus.BLOCKED:
                return "failed"
            return None
    return None


def retry_loops(run: Run) -> int:
    resumed_syncs = sum(
        1
        for before, after in zip(run.history, run.history[1:], strict=False)
        if before.status is RunStatus.FAILED and after.status is RunStatus.APPROVED
    )
    return run.retries + resumed_syncs


def time_to_diagnosis(run: Run) -> float | None:
    failure = run.failure
    if failure is None:
        return None
    if failure.diagnosed_at is not None:
        return _seconds(failure.at, failure.diagnosed_at)
    if run.channel is None:
        return _seconds(failure.at, run.entered_at(RunStatus.FAILED))
    return None


def run_metrics(run: Run, *, tz: tzinfo = UTC) -> RunMetrics:
    usage = run.usage
    return RunMetrics(
        run_id=run.run_id,
        status=run.status.value,
        created_at=run.created_at,
        day=run.created_at.astimezone(tz).date().isoformat(),
        channel=run.channel or NONE,
        repo=run.repo or NONE,
        lead_time_staged_s=_seconds(run.created_at, run.entered_at(RunStatus.AWAITING_APPROVAL)),
        lead_time_synced_s=_seconds(run.created_at, run.entered_at(RunStatus.SYNCED)),
        verification=verification_verdict(run),
        retry_loops=retry_loops(run),
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        tokens=usage.prompt_tokens + usage.completion_tokens,
        cost_usd=usage.cost_usd,
        failed=run.failure is not None,
        time_to_diagnosis_s=time_to_diagnosis(run),
    )


def summarize(key: str, items: list[RunMetrics]) -> GroupMetrics:
    passed = sum(1 for m in items if m.verification == "passed")
    failed = sum(1 for m in items if m.verification == "failed")
    diagnosed = [m.time_to_diagnosis_s for m in items if m.time_to_diagnosis_s is not None]
    return GroupMetrics(
        key=key,
        runs=len(items),
        by_status=dict(sorted(Counter(m.status for m in items).items())),
        lead_time_staged=distribution(m.lead_time_staged_s for m in items if m.lead_time_staged_s is not None),
        lead_time_synced=distribution(m.lead_time_synced_s for m in items if m.lead_time_synced_s is not None),
        verification_passed=passed,
        verification_failed=failed,
        pass_rate=passed / (passed + failed) if passed + failed else None,
        retry_loops=sum(m.retry_loops for m in items),
        runs_with_retries=sum(1 for m in items if m.retry_loops),
        tokens=distribution(float(m.tokens) for m in items),
        prompt_tokens=sum(m.prompt_tokens for m in items),
        completion_tokens=sum(m.completion_tokens for m in items),
        cost_usd=round(sum(m.cost_usd for m in items), 6),
        failures=sum(1 for m in items if m.failed),
        time_to_diagnosis=distribution(diagnosed),
        undiagnosed=sum(1 for m in items if m.failed and m.time_to_diagnosis_s is None),
    )


def group_by(items: list[RunMetrics], key: Callable[[RunMetrics], str]) -> list[GroupMetrics]:
    groups: dict[str, list[RunMetrics]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return [summarize(name, members) for name, members in sorted(groups.items())]


def metrics_summary(
    runs: Iterable[Run], window: timedelta | str, *, now: datetime | None = None, tz: tzinfo = UTC
) -> MetricsSummary:
    """The metrics of the runs submitted in the last `window` (e.g. `7d`) before `now`."""
    span = parse_window(window) if isinstance(window, str) else window
    until = now or utcnow()
    since = until - span
    items = [run_metrics(r, tz=tz) for r in runs if since <= r.created_at <= until]
    items.sort(key=lambda m: m.created_at)
    return MetricsSummary(
        window=window if isinstance(window, str) else _label(span),
        since=since,
        until=until,
        overall=summarize("all", items),
        by_day=group_by(items, lambda m: m.day),
        by_channel=group_by(items, lambda m: m.channel),
        by_repo=group_by(items, lambda m: m.repo),
        runs=items,
    )


def _label(span: timedelta) -> str:
    if span % timedelta(days=1) == timedelta(0):
        return f"{span.days}d"
    if span % timedelta(hours=1) == timedelta(0):
        return f"{int(span.total_seconds() // 3600)}h"
    return f"{int(span.total_seconds() // 60)}m"


def failure_cause(run: Run) -> str | None:
    """A short, countable name for why a run did not ship (for "most common failure causes").

    Failed: the step and the exception type (`planning: TimeoutError`), never the message text,
    which may hold details. Blocked: the first missing requirement, else the first failing check.
    """
    if run.status is RunStatus.FAILED and run.failure is not None:
        head = run.failure.message.split(":", 1)[0].strip()
        kind = head if head and " " not in head and len(head) <= 60 else "error"
        return f"{run.failure.step}: {kind}"
    if run.status is RunStatus.BLOCKED:
        missing = next((c.name for c in run.requirements if not c.ok), None)
        if missing:
            return f"missing requirement: {missing}"
        errors = run.verification.errors if run.verification else []
        if errors:
            return f"verification: {errors[0].check}"
        return "blocked"
    if run.status is RunStatus.EXPIRED:
        return "approval window passed"
    return None
