"""Crash recovery, decided: what to do with a run nobody is driving. Pure; no I/O.

A run is being driven while its lease is held (bot/adapters/leases.py) or while a job for it
waits in the queue or has just started. Otherwise, by state:

    queued                         no job waits for it              -> queue it again
    checking/planning/verifying    its worker stopped mid-planning  -> back to queued, planned again
                                                                       (planning writes nothing
                                                                       outside PASS), or failed
                                                                       with a diagnosis once it
                                                                       has lost `max_recoveries`
                                                                       workers
    approved                       no sync job waits for it         -> queue the sync
    syncing                        its worker stopped mid-sync      -> resume the sync (the GitHub
                                                                       syncer finds what exists),
                                                                       or failed likewise
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from bot.domain.models import Failure, Run
from bot.domain.status import RunStatus

PLANNING_STEPS = frozenset({RunStatus.CHECKING, RunStatus.PLANNING, RunStatus.VERIFYING})


class JobState(str, Enum):
    NONE = "none"  # no job, or only a finished one
    WAITING = "waiting"  # queued, or scheduled for later (a deferred run or sync)
    RUNNING = "running"  # taken by a worker that touched it within the lease time
    STALE = "stale"  # taken by a worker that has not touched it for longer than the lease time


class Action(str, Enum):
    REQUEUE = "requeue"  # enqueue the execute job again
    RESTART = "restart"  # move back to queued, then enqueue the execute job
    SYNC = "sync"  # enqueue the sync job (it resumes a run left syncing)
    FAIL = "fail"


@dataclass(frozen=True)
class Recovery:
    action: Action
    reason: str
    # The dead worker's job still blocks its key in the queue: finish it before enqueueing.
    drop_stale_job: bool = False
    failure: Failure | None = None


def _since(last_beat: datetime | None) -> str:
    return f"no heartbeat since {last_beat:%Y-%m-%d %H:%M:%S} UTC" if last_beat else "no heartbeat"


def decide(
    run: Run,
    *,
    lease_holder: str | None,
    job: JobState,
    last_beat: datetime | None,
    max_recoveries: int,
) -> Recovery | None:
    """What recovery should do with `run`, or None when it is in hand (or needs nothing)."""
    if lease_holder is not None or job in {JobState.WAITING, JobState.RUNNING}:
        return None
    stale = job is JobState.STALE
    status = run.status
    if status is RunStatus.QUEUED:
        return Recovery(Action.REQUEUE, "queued, and no job was waiting for it", drop_stale_job=stale)
    if status is RunStatus.APPROVED:
        return Recovery(Action.SYNC, "approved, and no sync job was waiting for it", drop_stale_job=stale)
    if status not in PLANNING_STEPS and status is not RunStatus.SYNCING:
        return None
    stopped = f"the worker running this run stopped ({_since(last_beat)})"
    if run.recoveries >= max_recoveries:
        times = f" ({run.recoveries + 1} workers lost on this run)" if run.recoveries else ""
        step = status.value
        failure = Failure(
            step=step,
            message=f"{stopped}{times}; start it again",
            diagnosis=(
                f"The worker driving this run while it was {step} stopped without finishing: it was killed, ran "
                "out of memory, or its host went away. PASS does not retry a run that keeps losing its worker "
                f"(policies/limits.yml max_run_recoveries: {max_recoveries}). Check the workers' logs for this "
                "run id, then start it again"
                + (" (a failed sync resumes without duplicates)." if status is RunStatus.SYNCING else ".")
            ),
        )
        return Recovery(Action.FAIL, stopped, drop_stale_job=stale, failure=failure)
    if status is RunStatus.SYNCING:
        return Recovery(Action.SYNC, f"{stopped}; resuming the sync", drop_stale_job=stale)
    return Recovery(Action.RESTART, f"{stopped}; planning it again", drop_stale_job=stale)
