"""Crash recovery: every worker scans for runs nobody is driving and hands them on.

The bound: a worker refreshes its run's lease every `worker_lease_ttl_s / 3`; when it dies the
lease lapses at most `worker_lease_ttl_s` later, and every worker scans every
`recovery_scan_interval_s`. So a dead worker's run is re-queued, resumed or failed with a
diagnosis within `Limits.recovery_bound_s` (then it waits for a free worker like any job).
The decisions are pure (bot/domain/recovery.py); this module reads the facts and applies them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.domain.models import Actor, Run
from bot.domain.recovery import PLANNING_STEPS, Action, JobState, Recovery, decide
from bot.domain.status import RunStatus
from bot.errors import RunNotFound, StoreUnavailable, TransitionConflict
from bot.logging import get_logger
from bot.services.approvals import Approvals
from bot.services.ports import JobKind
from bot.services.runs import RunService

log = get_logger(__name__)

RECOVERABLE = frozenset({RunStatus.QUEUED, RunStatus.APPROVED, RunStatus.SYNCING, *PLANNING_STEPS})


class RecoveryQueue(Protocol):
    async def enqueue(self, kind: JobKind, run_id: str, *, delay_s: float = 0.0, **kwargs: Any) -> bool: ...

    async def job_state(
        self, kind: JobKind, run_id: str, *, stale_after_s: float
    ) -> tuple[JobState, datetime | None]: ...

    async def drop_stale(self, kind: JobKind, run_id: str, reason: str) -> None: ...


class RecoveryLeases(Protocol):
    """Who drives each run (bot/adapters/leases.py's `RunLeases` in Redis)."""

    async def holder(self, run_id: str) -> str | None: ...

    async def claim_recovery(self, run_id: str) -> bool:
        """One worker at a time recovers a run: True for the one that may."""
        ...

    async def end_recovery(self, run_id: str) -> None: ...


@dataclass(frozen=True)
class Recovered:
    run_id: str
    status: RunStatus
    recovery: Recovery


def job_kind(status: RunStatus) -> JobKind:
    return JobKind.SYNC_RUN if status in {RunStatus.APPROVED, RunStatus.SYNCING} else JobKind.EXECUTE_RUN


class RecoveryService:
    def __init__(self, runs: RunService, approvals: Approvals, leases: RecoveryLeases, queue: RecoveryQueue) -> None:
        self.runs = runs
        self.approvals = approvals
        self.leases = leases
        self.queue = queue
        self.limits = runs.policies.limits

    async def scan(self) -> list[Recovered]:
        """One pass over the runs not yet ended; returns what was done."""
        done: list[Recovered] = []
        for run in await self.runs.store.active_runs():
            if run.status is RunStatus.AWAITING_APPROVAL:
                # Nobody drives a staged plan; the scan is also what ends one whose window has passed.
                await self._expire_if_due(run)
                continue
            if run.status not in RECOVERABLE:
                continue
            recovered = await self._check(run)
            if recovered is not None:
                done.append(recovered)
        return done

    async def _expire_if_due(self, run: Run) -> None:
        try:
            expired = await self.approvals.expire_if_due(run.run_id)
        except (TransitionConflict, RunNotFound):
            return  # approved or rejected in the meantime
        if expired.status is RunStatus.EXPIRED:
            log.info("recovery.expired", run_id=run.run_id)

    async def _check(self, run: Run) -> Recovered | None:
        kind = job_kind(run.status)
        holder = await self.leases.holder(run.run_id)
        job, last_beat = await self.queue.job_state(kind, run.run_id, stale_after_s=self.limits.worker_lease_ttl_s)
        recovery = decide(
            run,
            lease_holder=holder,
            job=job,
            last_beat=last_beat or run.updated_at,
            max_recoveries=self.limits.max_run_recoveries,
        )
        if recovery is None or not await self.leases.claim_recovery(run.run_id):
            return None
        try:
            await self._apply(run, kind, recovery)
        except (TransitionConflict, RunNotFound) as moved:
            # The run moved on between the look and the act (its worker was alive after all).
            log.info("recovery.skipped", run_id=run.run_id, reason=str(moved))
            return None
        finally:
            await self.leases.end_recovery(run.run_id)
        log.warning(
            "recovery.acted",
            run_id=run.run_id,
            status=run.status.value,
            action=recovery.action.value,
            why=recovery.reason,
        )
        return Recovered(run.run_id, run.status, recovery)

    async def _apply(self, run: Run, kind: JobKind, recovery: Recovery) -> None:
        if recovery.drop_stale_job:
            await self.queue.drop_stale(kind, run.run_id, recovery.reason)
        action = recovery.action
        if action is Action.FAIL:
            assert recovery.failure is not None
            await self.runs.fail(run.run_id, recovery.failure, expected=run.status)
            return
        if action is Action.RESTART:
            await self.runs.hand_back(run.run_id, recovery.reason, recovered=True)
        elif run.status is RunStatus.SYNCING:
            await self.runs.store.transition(
                run.run_id,
                RunStatus.SYNCING,
                None,
                actor=Actor.SYSTEM,
                actor_id="pass",
                action="run.recovered",
                mutate=lambda r: r.model_copy(update={"recoveries": r.recoveries + 1}),
                reason=recovery.reason,
            )
        else:
            await self.runs.store.record(
                run.run_id, actor=Actor.SYSTEM, actor_id="pass", action="run.requeued", reason=recovery.reason
            )
        await self.queue.enqueue(kind, run.run_id)


async def scan_loop(scan: Callable[[], Awaitable[object]], interval_s: float, *, stop: asyncio.Event) -> None:
    """Run `scan` (crash recovery, or the Slack card catch-up) every `interval_s` until `stop` is
    set. Redis being away is waited out; any other error is logged and the next scan goes on: a
    background loop that died quietly would leave runs unrecovered with nobody told."""
    while not stop.is_set():
        try:
            await scan()
        except (StoreUnavailable, RedisConnectionError, RedisTimeoutError, OSError) as exc:
            log.warning("scan.store_unavailable", scan=_name(scan), error=type(exc).__name__)
        except Exception:
            log.exception("scan.failed", scan=_name(scan))
        try:
            await asyncio.wait_for(stop.wait(), interval_s)
        except TimeoutError:
            continue


def _name(scan: Callable[[], Awaitable[object]]) -> str:
    return getattr(scan, "__qualname__", repr(scan))
