"""saq's sweep must not abort a job a worker has just taken (saq issue #277), and must still sweep
a real orphan: a job left in the active list by a worker that died before it could run it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from saq.job import Status

from bot.adapters.queue import SaqJobQueue
from bot.services.ports import JobKind

SETTLE_S = 0.3


@pytest.fixture
async def queue(redis_client: aioredis.Redis) -> AsyncIterator[SaqJobQueue]:
    jobs = SaqJobQueue.on(redis_client)
    await jobs.connect()
    jobs.saq.sweep_settle_s = SETTLE_S  # type: ignore[attr-defined]
    yield jobs
    await jobs.close()


async def _taken_but_not_yet_marked(queue: SaqJobQueue, run_id: str) -> None:
    """What a worker's dequeue does first: the job moves to the active list, still `queued`."""
    assert await queue.enqueue(JobKind.EXECUTE_RUN, run_id)
    saq = queue.saq
    job_id = await saq.redis.blmove(saq._queued, saq._active, 1, "LEFT", "RIGHT")  # type: ignore[attr-defined]
    assert job_id is not None


async def test_a_job_a_worker_has_just_taken_is_not_swept(queue: SaqJobQueue) -> None:
    await _taken_but_not_yet_marked(queue, "run-live")

    async def worker_marks_it_active() -> None:
        await asyncio.sleep(SETTLE_S / 3)
        job = await queue.saq.job("execute:run-live")
        assert job is not None
        job.started = int(time.time() * 1000)  # as saq's worker does before it marks the job
        await job.update(status=Status.ACTIVE)

    swept, _ = await asyncio.gather(queue.saq.sweep(abort=0.1), worker_marks_it_active())

    assert swept == []
    job = await queue.saq.job("execute:run-live")
    assert job is not None and job.status is Status.ACTIVE


async def test_a_job_left_unmarked_in_the_active_list_is_swept(queue: SaqJobQueue) -> None:
    await _taken_but_not_yet_marked(queue, "run-orphan")

    swept = await queue.saq.sweep(abort=0.1)

    assert swept == ["saq:job:pass:execute:run-orphan"]
    job = await queue.saq.job("execute:run-orphan")
    assert job is not None and job.status in {Status.ABORTED, Status.QUEUED}
    # Its key is free again: crash recovery (or a retry) can queue the run anew.
    assert await queue.pending() in {0, 1}
