"""`passbot worker`: takes jobs off the queue and drives runs with `RunService`.

Any number of workers on any hosts share one Redis. Each job is one call into the run service;
the service's compare-and-set decides whether there is anything left to do, so a duplicate or
late job is a logged no-op, never a second plan or a second sync. The Slack card follows the run
through the service's listeners (`bot.slack.notifier.SlackNotifier`), not through the job.

Tests drain the queue deterministically with `drain(worker)`: jobs run one at a time in the
test's event loop until the queue is empty.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from saq import Worker
from saq.job import Job

from bot.adapters.queue import JOB_LIMITS, JobKind, SaqJobQueue
from bot.bootstrap import Container
from bot.errors import RunNotFound, TransitionConflict
from bot.logging import get_logger
from bot.services.ports import SyncProgress
from bot.services.runs import RunService
from bot.slack.cards import CardStore
from bot.slack.client import build_web_client
from bot.slack.notifier import SlackNotifier

log = get_logger(__name__)

# Given a run id, a callback for sync progress (the Slack card shows "3 of 20 issues").
ProgressFactory = Callable[[str], SyncProgress | None]


@contextlib.asynccontextmanager
async def _heartbeat(ctx: dict[str, Any], kind: JobKind) -> AsyncIterator[None]:
    """Touch the job while it runs so saq's sweeper can tell a live job from a dead worker's."""
    job: Job | None = ctx.get("job")
    interval = max(1.0, JOB_LIMITS[kind].heartbeat_s / 3)

    async def beat() -> None:
        while True:
            await asyncio.sleep(interval)
            if job is not None:
                await job.update()

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def job_functions(runs: RunService, progress: ProgressFactory | None = None) -> list[tuple[str, Any]]:
    """The worker's functions, by job kind. Each returns the run's status (kept as the job result)."""

    async def execute_run(ctx: dict[str, Any], *, run_id: str) -> str:
        async with _heartbeat(ctx, JobKind.EXECUTE_RUN):
            try:
                run = await runs.execute(run_id)
            except (TransitionConflict, RunNotFound) as skipped:
                # Another worker has it, or it was cancelled: nothing to do, and nothing to redo.
                log.info("job.skipped", job="execute_run", run_id=run_id, reason=str(skipped))
                return "skipped"
        log.info("job.done", job="execute_run", run_id=run_id, status=run.status.value)
        return run.status.value

    async def sync_run(ctx: dict[str, Any], *, run_id: str) -> str:
        async with _heartbeat(ctx, JobKind.SYNC_RUN):
            try:
                run = await runs.sync(run_id, progress(run_id) if progress else None)
            except (TransitionConflict, RunNotFound) as skipped:
                log.info("job.skipped", job="sync_run", run_id=run_id, reason=str(skipped))
                return "skipped"
        log.info("job.done", job="sync_run", run_id=run_id, status=run.status.value)
        return run.status.value

    return [(JobKind.EXECUTE_RUN.value, execute_run), (JobKind.SYNC_RUN.value, sync_run)]


def build_worker(
    queue: SaqJobQueue,
    runs: RunService,
    *,
    concurrency: int = 4,
    progress: ProgressFactory | None = None,
    dequeue_timeout_s: float = 1.0,
) -> Worker:  # type: ignore[type-arg]
    """`dequeue_timeout_s` bounds each wait for a job (a blocking pop otherwise)."""
    return Worker(
        queue.saq,
        job_functions(runs, progress),
        concurrency=concurrency,
        dequeue_timeout=dequeue_timeout_s,
        # No grace period: saq would also wait out its upkeep tasks' sleeps (up to a minute). On
        # SIGTERM a running job is cancelled and saq re-queues it; the run's compare-and-set makes
        # the re-run a no-op, and a run left mid-step is crash recovery's to resume.
        shutdown_grace_period_s=None,
    )


async def drain(worker: Worker) -> int:  # type: ignore[type-arg]
    """Run queued jobs one by one until none is left; returns how many ran. For tests and the
    foreground CLI: deterministic, in the caller's event loop, no upkeep tasks, no signal handlers.
    The worker must be built with a positive `dequeue_timeout_s` (a blocking pop otherwise)."""
    if worker.dequeue_timeout <= 0:
        raise ValueError("drain() needs a worker built with dequeue_timeout_s > 0")
    ran = 0
    while await worker.process():
        ran += 1
    return ran


async def run_worker(worker: Worker) -> None:  # type: ignore[type-arg]
    """Until SIGINT/SIGTERM (saq installs the handlers and finishes running jobs first)."""
    log.info("worker.started", concurrency=worker.concurrency, queue=worker.queue.name)
    await worker.start()
    log.info("worker.stopped")


async def work(container: Container, *, concurrency: int = 4) -> None:
    """`passbot worker`: the queue on the container's Redis, cards updated when Slack is set up."""
    queue = SaqJobQueue.on(container.store.client)
    await queue.connect()
    progress: ProgressFactory | None = None
    client = build_web_client(container.settings)
    if client is not None:
        notifier = SlackNotifier(client, container.store, CardStore(container.store.client), container.policies)
        container.runs.add_listener(notifier)
        progress = notifier.sync_progress
    try:
        await run_worker(build_worker(queue, container.runs, concurrency=concurrency, progress=progress))
    finally:
        await queue.close()
