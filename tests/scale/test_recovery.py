"""Crash recovery and the workspace limit on a real Redis, with the real queue drained in-process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot.adapters.leases import RunLeases, WorkspaceSlots, held
from bot.adapters.queue import SaqJobQueue
from bot.adapters.redis_store import RedisRunStore
from bot.domain.models import Actor, Run, Source
from bot.domain.recovery import JobState
from bot.domain.status import RunStatus
from bot.entrypoints.worker import build_worker, drain
from bot.planner.heuristic import HeuristicPlanner
from bot.policies import Limits, Policies
from bot.services.dry_run import DryRunSyncer
from bot.services.ports import JobKind
from bot.services.recovery import RecoveryService
from bot.services.runs import RunService
from tests.helpers import PRDS, stop_line

TINY = (PRDS / "02_taskmaster_test_prd_tiny.md").read_text()
LEASE_S = 5.0


@pytest.fixture
async def queue(redis_client: aioredis.Redis) -> SaqJobQueue:
    q = SaqJobQueue.on(redis_client)
    await q.connect()
    yield q  # type: ignore[misc]
    await q.close()


def _service(store: RedisRunStore, tmp_path: Path, **limits: float) -> RunService:
    policies = Policies(limits=Limits.model_validate({"worker_lease_ttl_s": LEASE_S, **limits}))
    return RunService(store, HeuristicPlanner(), DryRunSyncer(tmp_path / "out", reason="test"), policies)


async def _left_in(runs: RunService, status: RunStatus) -> Run:
    """A run a worker was driving to `status` when it died: no lease, no job."""
    run, _ = await runs.submit(TINY, source=Source.SLACK, requester="UREQ", workspace="T1")
    path = {
        RunStatus.PLANNING: [RunStatus.CHECKING, RunStatus.PLANNING],
        RunStatus.SYNCING: [],
        RunStatus.QUEUED: [],
    }[status]
    for step in path:
        run = await runs.store.transition(run.run_id, run.status, step, actor=Actor.SYSTEM, actor_id="t", action="t")
    if status is RunStatus.SYNCING:
        run = await runs.execute(run.run_id)
        outcome = await stop_line(runs).approve(run.run_id, user="UAPP", via="test", plan_hash=run.plan_hash)
        assert outcome.now_approved
        run = await runs.store.transition(
            run.run_id, RunStatus.APPROVED, RunStatus.SYNCING, actor=Actor.SYSTEM, actor_id="t", action="sync.started"
        )
    return run


async def test_a_run_left_planning_by_a_dead_worker_is_planned_again_but_not_while_its_lease_is_live(
    store: RedisRunStore, queue: SaqJobQueue, tmp_path: Path
) -> None:
    runs = _service(store, tmp_path)
    leases = RunLeases(store.client, ttl_s=LEASE_S)
    recovery = RecoveryService(runs, stop_line(runs), leases, queue)
    run = await _left_in(runs, RunStatus.PLANNING)

    alive = await RunLeases(store.client, ttl_s=LEASE_S, worker="other-host:1").acquire(run.run_id)
    assert alive is not None
    assert await recovery.scan() == [], "a worker still holds it: hands off"
    await alive.release()

    (acted,) = await recovery.scan()
    assert acted.recovery.action.value == "restart"
    again = await store.get(run.run_id)
    assert again.status is RunStatus.QUEUED and again.recoveries == 1
    assert await recovery.scan() == [], "its job now waits in the queue"
    await drain(build_worker(queue, runs, dequeue_timeout_s=0.05))
    assert (await store.get(run.run_id)).status is RunStatus.AWAITING_APPROVAL


async def test_a_run_that_keeps_losing_its_worker_fails_with_a_diagnosis(
    store: RedisRunStore, queue: SaqJobQueue, tmp_path: Path
) -> None:
    runs = _service(store, tmp_path, max_run_recoveries=1)
    recovery = RecoveryService(runs, stop_line(runs), RunLeases(store.client, ttl_s=LEASE_S), queue)
    run = await _left_in(runs, RunStatus.PLANNING)
    # It has lost a worker once already (planned again), and now loses another.
    await store.transition(
        run.run_id,
        RunStatus.PLANNING,
        None,
        actor=Actor.SYSTEM,
        actor_id="t",
        action="t",
        mutate=lambda r: r.model_copy(update={"recoveries": 1}),
    )

    (acted,) = await recovery.scan()
    failed = await store.get(run.run_id)
    assert acted.recovery.action.value == "fail" and failed.status is RunStatus.FAILED
    assert failed.failure is not None
    assert failed.failure.message.startswith("the worker running this run stopped (no heartbeat since")
    assert failed.failure.message.endswith("start it again")
    assert "max_run_recoveries: 1" in failed.failure.diagnosis


async def test_a_sync_whose_worker_died_is_resumed_and_an_approved_run_without_a_job_is_synced(
    store: RedisRunStore, queue: SaqJobQueue, tmp_path: Path
) -> None:
    runs = _service(store, tmp_path)
    approvals = stop_line(runs)
    recovery = RecoveryService(runs, approvals, RunLeases(store.client, ttl_s=LEASE_S), queue)
    syncing = await _left_in(runs, RunStatus.SYNCING)
    approved = await runs.execute((await runs.submit(TINY, source=Source.API, requester="ci"))[0].run_id)
    assert (await approvals.approve(approved.run_id, user="UAPP", via="t", plan_hash=approved.plan_hash)).now_approved

    acted = {r.run_id: r.recovery.action.value for r in await recovery.scan()}
    assert acted == {syncing.run_id: "sync", approved.run_id: "sync"}
    assert await drain(build_worker(queue, runs, dequeue_timeout_s=0.05)) == 2
    for run_id in (syncing.run_id, approved.run_id):
        assert (await store.get(run_id)).status is RunStatus.SYNCED
    actions = [e.action for _, e in await store.audit_events(run_id=syncing.run_id)]
    assert "run.recovered" in actions and "sync.resumed" in actions


async def test_a_dead_worker_s_job_that_still_blocks_the_queue_is_cleared_and_the_run_queued_again(
    store: RedisRunStore, queue: SaqJobQueue, tmp_path: Path
) -> None:
    runs = _service(store, tmp_path, worker_lease_ttl_s=1)
    recovery = RecoveryService(runs, stop_line(runs), RunLeases(store.client, ttl_s=1), queue)
    run = await _left_in(runs, RunStatus.QUEUED)
    await queue.enqueue(JobKind.EXECUTE_RUN, run.run_id)
    job = await queue.saq.dequeue(timeout=1)  # a worker took it, marked it active, and died
    assert job is not None
    await job.update(status=job.status.ACTIVE)
    assert await recovery.scan() == [], "just taken: its worker may be about to take the lease"
    await asyncio.sleep(1.1)  # untouched for longer than the lease
    assert not await queue.enqueue(JobKind.EXECUTE_RUN, run.run_id), "the dead job holds its key"
    state, _ = await queue.job_state(JobKind.EXECUTE_RUN, run.run_id, stale_after_s=1)
    assert state is JobState.STALE

    (acted,) = await recovery.scan()
    assert acted.recovery.action.value == "requeue" and acted.recovery.drop_stale_job
    assert await drain(build_worker(queue, runs, dequeue_timeout_s=0.05)) == 1
    assert (await store.get(run.run_id)).status is RunStatus.AWAITING_APPROVAL


async def test_a_run_over_its_workspace_limit_waits_queued_saying_so_and_starts_when_a_slot_frees(
    store: RedisRunStore, queue: SaqJobQueue, tmp_path: Path
) -> None:
    runs = _service(store, tmp_path, max_concurrent_runs_per_workspace=1, workspace_wait_s=0.1)
    slots = WorkspaceSlots(store.client, ttl_s=LEASE_S)
    assert await slots.acquire("T1", "elsewhere", 1), "a run of T1 planning on another worker"
    other_team, _ = await runs.submit(TINY, source=Source.SLACK, requester="U2", workspace="T2")
    run, _ = await runs.submit(TINY, source=Source.SLACK, requester="U1", workspace="T1")
    for r in (run, other_team):
        await queue.enqueue(JobKind.EXECUTE_RUN, r.run_id)
    worker = build_worker(queue, runs, dequeue_timeout_s=0.05)

    assert await drain(worker) == 2
    assert (await store.get(other_team.run_id)).status is RunStatus.AWAITING_APPROVAL, "another workspace goes on"
    waiting = await store.get(run.run_id)
    assert waiting.status is RunStatus.QUEUED
    assert waiting.waiting is not None and "Waiting for a free slot" in waiting.waiting
    assert waiting.contract()["waiting"] == waiting.waiting
    state, _ = await queue.job_state(JobKind.EXECUTE_RUN, run.run_id, stale_after_s=LEASE_S)
    assert state is JobState.WAITING, "its job is scheduled to look again"

    await slots.release("T1", "elsewhere")
    while not await queue.saq.schedule():  # saq's scheduler moves it to the queue when due
        await asyncio.sleep(0.1)
    assert await drain(worker) == 1
    started = await store.get(run.run_id)
    assert started.status is RunStatus.AWAITING_APPROVAL and started.waiting is None
    assert await slots.in_use("T1") == 0, "the slot is given back when planning ends"


async def test_a_run_driven_in_the_foreground_keeps_its_lease_past_the_lease_time(
    store: RedisRunStore, queue: SaqJobQueue, tmp_path: Path
) -> None:
    """`passbot plan` drives its run itself: workers' recovery must not take it over meanwhile."""
    runs = _service(store, tmp_path, worker_lease_ttl_s=1)
    leases = RunLeases(store.client, ttl_s=1)
    recovery = RecoveryService(runs, stop_line(runs), leases, queue)
    run = await _left_in(runs, RunStatus.PLANNING)
    async with held(leases, run.run_id) as lease:
        assert lease is not None
        await asyncio.sleep(1.5)  # longer than the lease: only the refreshes keep it
        assert await recovery.scan() == []
    (acted,) = await recovery.scan()
    assert acted.recovery.action.value == "restart", "once let go without finishing, it is an orphan"


async def test_a_plan_left_unapproved_past_its_window_is_expired_by_the_scan(
    store: RedisRunStore, queue: SaqJobQueue, tmp_path: Path
) -> None:
    from bot.policies import ApprovalPolicy, ApprovalRule

    window_s = 0.5
    policies = Policies(
        limits=Limits.model_validate({"worker_lease_ttl_s": LEASE_S}),
        approvals=ApprovalPolicy(default=ApprovalRule(approval_window_hours=window_s / 3600)),
    )
    runs = RunService(store, HeuristicPlanner(), DryRunSyncer(tmp_path / "out", reason="test"), policies)
    run, _ = await runs.submit(TINY, source=Source.SLACK, requester="UREQ", workspace="T1")
    run = await runs.execute(run.run_id)
    recovery = RecoveryService(runs, stop_line(runs), RunLeases(store.client, ttl_s=LEASE_S), queue)

    await recovery.scan()
    assert (await store.get(run.run_id)).status is RunStatus.AWAITING_APPROVAL  # still inside its window
    await asyncio.sleep(window_s + 0.2)
    await recovery.scan()
    expired = await store.get(run.run_id)
    assert expired.status is RunStatus.EXPIRED
    late = await stop_line(runs).approve(run.run_id, user="UAPP", via="test", plan_hash=expired.plan_hash)
    assert not late.accepted
