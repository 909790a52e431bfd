"""`passbot worker`: takes jobs off the queue and drives runs with `RunService`.

Any number of workers on any hosts share one Redis. Each job is one call into the run service,
made while the worker holds the run's lease (bot/adapters/leases.py), refreshed by the job's
heartbeat; the service's compare-and-set decides whether there is anything left to do, so a
duplicate or late job is a logged no-op, never a second plan or a second sync. The Slack card
follows the run through the service's listeners (`bot.slack.notifier.SlackNotifier`).

Beside the jobs every worker runs crash recovery (bot/services/recovery.py) and, with Slack set
up, a cron job each minute that posts the digests that are due (one per slot across workers).

Stopping: on SIGTERM saq cancels running jobs and re-queues them; a run that was planning is
handed back to `queued` (planned again by the next worker), a sync is resumed where it stopped.

Tests drain the queue deterministically with `drain(worker)`: jobs run one at a time in the
test's event loop until the queue is empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from saq import CronJob, Worker
from saq.job import Job

from bot.adapters.leases import LeaseLost, RunLease, RunLeases, WorkspaceSlots
from bot.adapters.queue import QuietWhileRedisIsAway, SaqJobQueue
from bot.adapters.redis_store import RedisRunStore
from bot.bootstrap import Container, build_command_policy
from bot.domain.status import RunStatus
from bot.entrypoints.startup import settle
from bot.errors import BadInput, ConfigError, PassError, RunNotFound, StoreUnavailable, SyncDeferred, TransitionConflict
from bot.logging import get_logger
from bot.policies import Limits
from bot.services.ports import JobKind, SyncProgress
from bot.services.recovery import RecoveryService, scan_loop
from bot.services.repo_checks import RepoChecks
from bot.services.runs import RunService
from bot.slack.client import build_web_client
from bot.slack.notifier import SlackNotifier
from bot.slack.verify_reporter import SlackVerifyReporter, VerifyReporter

log = get_logger(__name__)

# Given a run id, a callback for sync progress (the Slack card shows "3 of 20 issues").
ProgressFactory = Callable[[str], SyncProgress | None]

STORE_DOWN = (StoreUnavailable, RedisConnectionError, RedisTimeoutError, OSError)
# Where a job function asks for itself to run again later (see `RunJobs.after_process`).
_AGAIN = "pass_again"


@dataclass
class RunJobs:
    """The worker's job functions, by job kind. Each returns what it did (kept as the job result)."""

    runs: RunService
    queue: SaqJobQueue
    leases: RunLeases
    slots: WorkspaceSlots
    progress: ProgressFactory | None = None
    repo_checks: RepoChecks | None = None
    verify_reporter: VerifyReporter | None = None

    @property
    def limits(self) -> Limits:
        return self.runs.policies.limits

    def functions(self) -> list[tuple[str, Any]]:
        return [
            (JobKind.EXECUTE_RUN.value, self.execute_run),
            (JobKind.SYNC_RUN.value, self.sync_run),
            (JobKind.VERIFY_REPO.value, self.verify_repo),
        ]

    async def verify_repo(self, ctx: dict[str, Any], *, run_id: str, repo: str, channel: str, user: str) -> str:
        """`/pass verify`: the repo's checks in the sandbox, the findings back to who asked."""
        if self.verify_reporter is None:
            # Nobody can be told: say so loudly, with the fix, where the operator looks.
            log.warning(
                "job.unanswered",
                job="verify_repo",
                request=run_id,
                repo=repo,
                channel=channel,
                reason="this worker has no Slack client to answer with; set SLACK_BOT_TOKEN on every worker",
            )
            return "unanswered"
        if self.repo_checks is None:
            await self.verify_reporter.failed(channel, user, repo, "this PASS worker is not set up to run repo checks")
            return "failed"
        try:
            result = await self.repo_checks.verify(repo)
        except BadInput as exc:
            await self.verify_reporter.failed(channel, user, repo, str(exc))
            return "failed"
        except (PassError, OSError) as exc:
            # Not the person's to fix: logged with its traceback, and they are told, with a reference.
            log.exception("job.verify_failed", job="verify_repo", request=run_id, repo=repo)
            await self.verify_reporter.failed(
                channel, user, repo, f"{type(exc).__name__} on the worker (logged as verify_repo {run_id})"
            )
            return "failed"
        await self.verify_reporter.report(channel, user, repo, result)
        return "passed" if result.passed else "findings"

    async def execute_run(self, ctx: dict[str, Any], *, run_id: str) -> str:
        lease = await self.leases.acquire(run_id)
        if lease is None:
            return _skipped("execute_run", run_id, "another worker holds the run's lease")
        try:
            try:
                run = await self.runs.store.get(run_id)
            except RunNotFound as gone:
                return _skipped("execute_run", run_id, str(gone))
            if run.status is not RunStatus.QUEUED:
                return _skipped("execute_run", run_id, f"the run is {run.status.value}")
            limit = self.limits.max_concurrent_runs_per_workspace
            if not await self.slots.acquire(run.workspace, run_id, limit):
                waiting = (
                    f"Waiting for a free slot: {limit} run(s) of this workspace are planning "
                    "(policies/limits.yml max_concurrent_runs_per_workspace); it starts when one ends."
                )
                await self.runs.note_waiting(run_id, RunStatus.QUEUED, waiting)
                ctx[_AGAIN] = (JobKind.EXECUTE_RUN, run_id, self.limits.workspace_wait_s, {})
                log.info("job.waiting", job="execute_run", run_id=run_id, workspace=run.workspace)
                return "waiting"
            try:
                async with self._driving(ctx, lease, slot=(run.workspace, run_id)) as lost:
                    try:
                        run = await self.runs.execute(run_id)
                    except asyncio.CancelledError:
                        if lost.is_set():
                            return _skipped("execute_run", run_id, "the lease was taken over")
                        await self._hand_back(run_id)
                        raise
                    except TransitionConflict as moved:
                        return _skipped("execute_run", run_id, str(moved))
            finally:
                await _quietly(self.slots.release(run.workspace, run_id))
        finally:
            await _quietly(lease.release())
        log.info("job.done", job="execute_run", run_id=run_id, status=run.status.value)
        return run.status.value

    async def sync_run(self, ctx: dict[str, Any], *, run_id: str, deferral: int = 0) -> str:
        lease = await self.leases.acquire(run_id)
        if lease is None:
            return _skipped("sync_run", run_id, "another worker holds the run's lease")
        try:
            try:
                run = await self.runs.store.get(run_id)
            except RunNotFound as gone:
                return _skipped("sync_run", run_id, str(gone))
            if run.status not in {RunStatus.APPROVED, RunStatus.SYNCING}:
                return _skipped("sync_run", run_id, f"the run is {run.status.value}")
            # We hold the lease, so a run left `syncing` has no other driver: its worker stopped.
            resume = run.status is RunStatus.SYNCING
            progress = self.progress(run_id) if self.progress else None
            async with self._driving(ctx, lease) as lost:
                try:
                    run = await self.runs.sync(run_id, progress, resume=resume, deferral=deferral)
                except SyncDeferred as deferred:
                    ctx[_AGAIN] = (JobKind.SYNC_RUN, run_id, deferred.delay_s, {"deferral": deferral + 1})
                    log.warning("job.deferred", job="sync_run", run_id=run_id, wait_s=deferred.delay_s)
                    return "deferred"
                except asyncio.CancelledError:
                    if lost.is_set():
                        return _skipped("sync_run", run_id, "the lease was taken over")
                    # Nothing to move: the run stays `syncing` and its re-queued job resumes it.
                    log.warning("job.handed_back", job="sync_run", run_id=run_id)
                    raise
                except TransitionConflict as moved:
                    return _skipped("sync_run", run_id, str(moved))
        finally:
            await _quietly(lease.release())
        log.info("job.done", job="sync_run", run_id=run_id, status=run.status.value)
        return run.status.value

    async def after_process(self, ctx: dict[str, Any]) -> None:
        """saq's hook after a job has finished: only then is its key free to queue it again."""
        again = ctx.pop(_AGAIN, None)
        if again is None:
            return
        kind, run_id, delay_s, kwargs = again
        try:
            await self.queue.enqueue(kind, run_id, delay_s=delay_s, **kwargs)
        except STORE_DOWN:
            # Crash recovery queues it again once Redis is back (a run with no job waiting).
            log.warning("job.requeue_failed", run_id=run_id, kind=kind.value)

    async def _hand_back(self, run_id: str) -> None:
        try:
            await self.runs.hand_back(run_id, "the worker planning it was stopped (SIGTERM); it starts again")
        except (TransitionConflict, RunNotFound):
            pass  # it had already moved on
        except STORE_DOWN:
            log.warning("job.hand_back_failed", run_id=run_id, reason="store unavailable; recovery will find it")
        log.warning("job.handed_back", job="execute_run", run_id=run_id)

    @contextlib.asynccontextmanager
    async def _driving(
        self, ctx: dict[str, Any], lease: RunLease, *, slot: tuple[str, str] | None = None
    ) -> AsyncIterator[asyncio.Event]:
        """Heartbeat while the job runs: the lease, the workspace slot and saq's own job record.
        If another worker has taken the lease, the job is cancelled (the event says why)."""
        job: Job | None = ctx.get("job")
        interval = max(0.2, min(self.limits.worker_lease_ttl_s, float(job.heartbeat if job else 60)) / 3)
        driver = asyncio.current_task()
        lost = asyncio.Event()

        async def beat() -> None:
            while True:
                await asyncio.sleep(interval)
                try:
                    await lease.refresh()
                    if slot is not None:
                        await self.slots.refresh(*slot)
                    if job is not None:
                        await job.update()
                except LeaseLost:
                    log.error("worker.lease_lost", run_id=lease.run_id)
                    lost.set()
                    if driver is not None:
                        driver.cancel()
                    return
                except STORE_DOWN as exc:
                    # Redis away: keep working; the lease is taken again when it is back.
                    log.warning("worker.heartbeat_failed", run_id=lease.run_id, error=type(exc).__name__)

        task = asyncio.create_task(beat())
        try:
            yield lost
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _skipped(job: str, run_id: str, reason: str) -> str:
    # Another worker has it, or it has moved on: nothing to do, and nothing to redo.
    log.info("job.skipped", job=job, run_id=run_id, reason=reason)
    return "skipped"


async def _quietly(release: Any) -> None:
    """Releasing a lease or slot when Redis is away: both lapse by themselves."""
    try:
        await release
    except STORE_DOWN:
        log.warning("worker.release_failed")


def build_worker(
    queue: SaqJobQueue,
    runs: RunService,
    *,
    concurrency: int = 4,
    progress: ProgressFactory | None = None,
    dequeue_timeout_s: float = 1.0,
    cron_jobs: Sequence[CronJob[Any]] = (),
    leases: RunLeases | None = None,
    repo_checks: RepoChecks | None = None,
    verify_reporter: VerifyReporter | None = None,
) -> Worker:  # type: ignore[type-arg]
    """`dequeue_timeout_s` bounds each wait for a job (a blocking pop otherwise)."""
    ttl = runs.policies.limits.worker_lease_ttl_s
    # The leases and the workspace slots live in the runs' Redis, beside the runs they guard.
    if not isinstance(runs.store, RedisRunStore):
        raise ConfigError("the worker keeps its leases beside the runs: it needs the Redis run store")
    jobs = RunJobs(
        runs,
        queue,
        leases or RunLeases(runs.store.client, ttl_s=ttl),
        WorkspaceSlots(runs.store.client, ttl_s=ttl),
        progress,
        repo_checks,
        verify_reporter,
    )
    return Worker(
        queue.saq,
        jobs.functions(),
        concurrency=concurrency,
        dequeue_timeout=dequeue_timeout_s,
        cron_jobs=list(cron_jobs),
        after_process=jobs.after_process,
        # No grace period: saq would also wait out its upkeep tasks' sleeps (up to a minute). On
        # SIGTERM a running job is cancelled and saq re-queues it; the job hands its run back first.
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


def digest_cron(container: Container) -> CronJob[Any]:
    """Each minute, post the digests that are due. Every worker schedules it; saq's cron key runs
    it once per minute, and the digest ledger allows one digest per slot whatever happens."""
    from bot.bootstrap import build_digest_service

    service = build_digest_service(container)

    async def send_due_digests(ctx: dict[str, Any]) -> int:
        sent = await service.send_due()
        if sent:
            log.info("digest.sent", channels=[s.channel for s in sent])
        return len(sent)

    return CronJob(send_due_digests, cron="* * * * *", timeout=300, ttl=600)


async def work(container: Container, *, concurrency: int = 4) -> None:
    """`passbot worker`: the queue on the container's Redis, crash recovery, digests and cards
    when Slack is set up."""
    queue = SaqJobQueue.on(container.store.client)
    await queue.connect()
    logging.getLogger("saq").addFilter(QuietWhileRedisIsAway())
    limits = container.policies.limits
    progress: ProgressFactory | None = None
    client = build_web_client(container.settings)
    cron: list[CronJob[Any]] = []
    reporter: VerifyReporter | None = None
    notifier: SlackNotifier | None = None
    if client is not None:
        notifier = SlackNotifier(client, container.store, container.cards, container.policies)
        container.runs.add_listener(notifier)
        progress = notifier.sync_progress
        cron.append(digest_cron(container))
        reporter = SlackVerifyReporter(client)
    leases = RunLeases(container.store.client, ttl_s=limits.worker_lease_ttl_s)
    checks = RepoChecks.from_settings(container.settings, build_command_policy(container.settings), container.store)
    worker = build_worker(
        queue,
        container.runs,
        concurrency=concurrency,
        progress=progress,
        cron_jobs=cron,
        leases=leases,
        repo_checks=checks,
        verify_reporter=reporter,
    )
    recovery = RecoveryService(container.runs, container.approvals, leases, queue)
    stop = asyncio.Event()
    scans: list[Callable[[], Awaitable[object]]] = [recovery.scan]
    if notifier is not None:
        # Cards Slack missed while it was down; its own loop, so a long catch-up after an outage
        # never holds up crash recovery (whose bound is lease + scan interval).
        scans.append(notifier.catch_up)
    scanning = [asyncio.create_task(scan_loop(s, limits.recovery_scan_interval_s, stop=stop)) for s in scans]
    scanning.append(asyncio.create_task(container.redis.keep_alive(stop)))
    log.info("worker.recovery", lease_ttl_s=limits.worker_lease_ttl_s, scan_s=limits.recovery_scan_interval_s)
    try:
        settle()
        await run_worker(worker)
    finally:
        stop.set()
        await asyncio.gather(*scanning)
        await queue.close()
        # Many redone commits mean the processes sharing this Redis contend for the audit head.
        log.info("worker.commits", redone=container.store.redone)
