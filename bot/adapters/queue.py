"""The job queue: long work (planning, syncing) leaves the request that asked for it.

`JobQueue` (bot/services/ports.py) is the port the Slack listeners, webhooks and the API use;
`SaqJobQueue` keeps jobs in the same Redis as the runs, with saq (asyncio, job timeouts,
heartbeats, dedupe keys). A job's key is `<kind>:<run_id>`: while one is queued or running,
enqueueing the same key again is a no-op, so a Slack retry or a double click never queues a run
twice. (The run's own compare-and-set in the store is the second guard: a job for a run that has
already moved does nothing.)

Adding a job kind: a member of `JobKind` (bot/services/ports.py), its limits in `JOB_LIMITS`, and
a function of the same name registered in `bot/entrypoints/worker.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from saq import Queue
from saq.job import Job, Status
from saq.queue.redis import RedisQueue

from bot.domain.recovery import JobState
from bot.logging import get_logger
from bot.services.ports import JobKind

log = get_logger(__name__)

QUEUE_NAME = "pass"


@dataclass(frozen=True)
class JobLimits:
    # saq aborts a job that runs longer than this (0 disables).
    timeout_s: int
    # saq's sweeper treats a job as stuck when it has not been touched for this long; the worker
    # touches it every `heartbeat_s / 3` while the job runs (see bot/entrypoints/worker.py).
    heartbeat_s: int
    # One attempt: a run is not safely re-runnable from the middle; crash recovery decides instead.
    retries: int = 1
    # How long a finished job's record stays in Redis (for `saq` inspection).
    ttl_s: int = 3600


JOB_LIMITS: dict[JobKind, JobLimits] = {
    # Planning may call an LLM several times (repair rounds); 15 minutes is far past the normal case.
    JobKind.EXECUTE_RUN: JobLimits(timeout_s=15 * 60, heartbeat_s=60),
    # GitHub asks for a second between writes: 60 items take a minute or two.
    JobKind.SYNC_RUN: JobLimits(timeout_s=20 * 60, heartbeat_s=60),
    # A clone plus lint, types, tests and a security scan, each with its own sandbox timeout.
    JobKind.VERIFY_REPO: JobLimits(timeout_s=30 * 60, heartbeat_s=60),
}


def job_key(kind: JobKind, run_id: str) -> str:
    return f"{kind.prefix}:{run_id}"


class PatientRedisQueue(RedisQueue):
    """saq's Redis queue, except that a worker finding Redis away waits before it asks again.

    saq's worker loop treats a failed dequeue like an empty one and asks again at once: while Redis
    is down that is a busy loop (measured: a whole core). Here each failed dequeue waits, up to
    five seconds, then reports no job; redis-py reconnects by itself on the next try."""

    _away_s = 0.0
    # How long a job that a worker has just taken may still show `queued` in the active list.
    sweep_settle_s = 10.0  # far more than a dequeue takes, even with a busy loop (sweeps are a minute apart)

    async def dequeue(self, timeout: float = 0.0, poll_interval: float = 0.0) -> Job | None:  # noqa: ASYNC109 - saq's signature
        try:
            job = await super().dequeue(timeout, poll_interval)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            if not self._away_s:
                log.warning("queue.store_unavailable", error=type(exc).__name__)
            self._away_s = min(5.0, max(0.25, self._away_s * 2))
            await asyncio.sleep(self._away_s)
            return None
        if self._away_s:
            log.info("queue.store_back")
            self._away_s = 0.0
        return job

    async def sweep(self, lock: int = 60, abort: float = 5.0) -> list[str]:
        """saq's sweep (jobs left in the active list by a dead worker are retried or aborted),
        minus a race (saq issue #277): BLMOVE puts a job in the active list still marked `queued`,
        and its worker marks it `active` a moment later. saq's sweep takes that moment for an
        orphan and aborts a job that is running, which is what every worker starting on a full
        queue runs into. Here a job found so is looked at again after `sweep_settle_s`, and only
        one that is still not active is swept. Same lock, same actions as saq's."""
        if not await self.redis.set(self._sweep, 1, ex=lock, nx=True):
            return []  # another worker swept within `lock` seconds
        suspects = await self._sweep_suspects()
        if any(job is not None and job.status is Status.QUEUED for job in suspects.values()):
            await asyncio.sleep(self.sweep_settle_s)
            suspects = {k: v for k, v in (await self._sweep_suspects()).items() if k in suspects}
        for job_id, job in suspects.items():
            if job is None:
                # Listed as active, but its record has expired: take it off the lists.
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.lrem(self._active, 0, job_id.decode())
                    pipe.zrem(self._incomplete, job_id)
                    await pipe.execute()
                continue
            log.warning("queue.swept", job=job.function, key=job.key, status=job.status.value)
            await self.abort(job, error=self.swept_error_message)
            with contextlib.suppress(TimeoutError):
                await job.refresh(abort)
            if job.retryable:
                await self.retry(job, error=self.swept_error_message)
            else:
                await self.finish(job, Status.ABORTED, error=self.swept_error_message)
        return [job_id.decode() for job_id in suspects]

    async def _sweep_suspects(self) -> dict[bytes, Job | None]:
        """Jobs in the active list that are not running: no record, not marked active, or stuck."""
        ids: list[bytes] = await self.redis.lrange(self._active, 0, -1)  # type: ignore[misc]
        if not ids:
            return {}
        jobs = [self.deserialize(raw) for raw in await self.redis.mget(ids)]
        return {
            i: job
            for i, job in zip(ids, jobs, strict=True)
            if job is None or job.status is not Status.ACTIVE or job.stuck
        }


class QuietWhileRedisIsAway(logging.Filter):
    """Drops saq's per-second upkeep tracebacks while Redis is unreachable (PASS logs the outage
    once, and again when it ends); every other saq record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, RedisConnectionError | RedisTimeoutError | ConnectionRefusedError)


class SaqJobQueue:
    def __init__(self, queue: Queue) -> None:
        self.saq = queue

    @classmethod
    def on(cls, client: aioredis.Redis, *, name: str = QUEUE_NAME) -> SaqJobQueue:
        """A queue on the same Redis server as `client`. saq needs bytes replies, so it gets its own
        connection pool with the same address (URL or embedded unix socket) and decoding off."""
        pool = client.connection_pool
        # No command timeout: saq blocks on purpose (BLMOVE, its pub/sub listener).
        kwargs = {**pool.connection_kwargs, "decode_responses": False, "socket_timeout": None}
        raw = aioredis.Redis(connection_pool=aioredis.ConnectionPool(connection_class=pool.connection_class, **kwargs))
        return cls(PatientRedisQueue(raw, name=name))

    async def connect(self) -> None:
        await self.saq.connect()

    async def enqueue(self, kind: JobKind, run_id: str, *, delay_s: float = 0.0, **kwargs: Any) -> bool:
        """`delay_s` schedules the job for later (a run waiting for a slot, a sync waiting out a
        rate limit); extra keyword arguments reach the job function."""
        limits = JOB_LIMITS[kind]
        job = await self.saq.enqueue(
            kind.value,
            key=job_key(kind, run_id),
            timeout=limits.timeout_s,
            heartbeat=limits.heartbeat_s,
            retries=limits.retries,
            ttl=limits.ttl_s,
            scheduled=math.ceil(time.time() + delay_s) if delay_s > 0 else 0,
            run_id=run_id,
            **kwargs,
        )
        return job is not None

    async def job_state(self, kind: JobKind, run_id: str, *, stale_after_s: float) -> tuple[JobState, datetime | None]:
        """The run's job of this kind, as crash recovery sees it, and when a worker last touched it."""
        job = await self.saq.job(job_key(kind, run_id))
        if job is None:
            return JobState.NONE, None
        touched = datetime.fromtimestamp(job.touched / 1000, UTC) if job.touched else None
        if job.status is Status.QUEUED:
            return JobState.WAITING, touched
        if job.status is Status.ACTIVE:
            fresh = job.touched and (time.time() * 1000 - job.touched) <= stale_after_s * 1000
            return (JobState.RUNNING if fresh else JobState.STALE), touched
        return JobState.NONE, touched

    async def drop_stale(self, kind: JobKind, run_id: str, reason: str) -> None:
        """Finish a dead worker's job so its key is free to enqueue again (what saq's own sweeper
        does after a job's heartbeat lapses, without waiting for its next sweep)."""
        job = await self.saq.job(job_key(kind, run_id))
        if job is not None and job.status is Status.ACTIVE:
            await self.saq.finish(job, Status.ABORTED, error=reason)

    async def enqueue_execute(self, run_id: str) -> None:
        """The shape `bot.entrypoints.web.intake.IntakeDeps.enqueue_execute` takes."""
        await self.enqueue(JobKind.EXECUTE_RUN, run_id)

    async def pending(self) -> int:
        """Jobs queued and not yet taken by a worker."""
        count: int = await self.saq.count("queued")
        return count

    async def close(self) -> None:
        await self.saq.disconnect()
