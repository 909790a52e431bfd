"""How long a sync waits when GitHub is rate limiting it or not answering, and what the run says.

The GitHub syncer already sleeps through short waits itself (bot/services/write_pacing.py); what
reaches here is a wait too long to hold a worker for, or an outage that outlasted its retries.
The sync job is then rescheduled (bot/entrypoints/worker.py), a bounded number of times.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain.models import Failure
from bot.services.issue_tracker import TrackerError, TrackerRateLimited

# GitHub's guidance for a secondary limit without Retry-After: wait at least a minute, backing off.
RATE_LIMIT_FALLBACK_S = 60.0
OUTAGE_FIRST_WAIT_S = 30.0
MAX_WAIT_S = 3600.0


def outage_wait(error: TrackerError, deferral: int, now_epoch: float) -> float:
    """Seconds until the `deferral`-th (0-based) retry of a sync that stopped on `error`."""
    if isinstance(error, TrackerRateLimited):
        if error.retry_after is not None:
            wait = error.retry_after
        elif error.remaining == 0 and error.reset_at is not None:
            wait = error.reset_at - now_epoch + 1.0
        else:
            wait = RATE_LIMIT_FALLBACK_S * 2.0**deferral
    else:
        wait = OUTAGE_FIRST_WAIT_S * 2.0**deferral
    return min(MAX_WAIT_S, max(1.0, wait))


def waiting_text(error: TrackerError, wait_s: float, deferral: int, max_deferrals: int, now: datetime) -> str:
    what = "GitHub's rate limit to reset" if isinstance(error, TrackerRateLimited) else "GitHub to answer again"
    status = f"HTTP {error.status}" if error.status else "no answer"
    resume = (now + timedelta(seconds=wait_s)).astimezone(UTC)
    return (
        f"Waiting for {what} ({status}); the sync continues at {resume:%H:%M:%S} UTC "
        f"(wait {deferral + 1} of {max_deferrals}). Issues already created are kept; none is created twice."
    )


def outage_failure(
    error: TrackerError,
    *,
    run_id: str,
    deferrals: int,
    max_deferrals: int,
    sync_for_s: float | None,
) -> Failure:
    """The end of a sync GitHub never let through: what was tried, for how long, what to do.
    Never a source location: the person reading it runs PASS, they do not debug it."""
    api = error.api_url or "GitHub's API"
    status = f"HTTP {error.status}" if error.status else str(error).removeprefix("no answer from GitHub ").strip("()")
    limited = isinstance(error, TrackerRateLimited)
    what = f"GitHub kept refusing with its rate limit ({status})" if limited else f"GitHub did not answer ({status})"
    tried = f"{error.attempts} attempt(s) of the last call over {duration(error.tried_for_s)}"
    if deferrals:
        tried += f", after waiting for GitHub {deferrals} time(s) (max_sync_deferrals: {max_deferrals})"
    if sync_for_s is not None:
        tried += f"; {duration(sync_for_s)} since the sync started"
    if limited:
        todo = (
            "wait for the limit to reset, or raise max_sync_deferrals in policies/limits.yml so the sync "
            "waits longer; a GitHub App token has a higher limit than a personal one"
        )
    else:
        todo = (
            f"check that the worker's host reaches {api} (GITHUB_API_URL; a proxy or firewall?) and, for "
            "github.com, https://www.githubstatus.com; raise max_sync_deferrals in policies/limits.yml to "
            "wait out longer outages"
        )
    diagnosis = (
        f"{what} at {api}. Tried: {tried}. Nothing more was written; issues created before it stopped are kept "
        f"(label `pass`, run {run_id} in their footer; `passbot audit export --run {run_id}` lists them). "
        f"What to do: {todo}. Close those issues before planning the PRD again, or they are created twice."
    )
    return Failure(step="syncing", message=f"{what} at {api}", diagnosis=diagnosis)


def duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 120:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 120:
        return f"{minutes}m {secs:02d}s"
    return f"{minutes // 60}h {minutes % 60:02d}m"
