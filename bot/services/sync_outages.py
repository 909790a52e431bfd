"""How long a sync waits when GitHub is rate limiting it or not answering, and what the run says.

The GitHub syncer already sleeps through short waits itself (bot/services/write_pacing.py); what
reaches here is a wait too long to hold a worker for, or an outage that outlasted its retries.
The sync job is then rescheduled (bot/worker.py), a bounded number of times.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
