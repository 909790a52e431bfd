"""`passbot worker` processes on one Redis: a killed worker's run is taken over within the stated
bound, a stopped worker hands its run back, and a Redis restart mid-run loses nothing."""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta
from pathlib import Path

import redis.asyncio as aioredis

from bot.adapters.leases import RunLeases
from bot.adapters.queue import SaqJobQueue
from bot.adapters.redis_store import RedisRunStore
from bot.domain.audit import check_chain
from bot.domain.models import Run, Source, utcnow
from bot.domain.recovery import JobState
from bot.domain.status import RunStatus
from bot.errors import StoreUnavailable
from bot.planner.heuristic import HeuristicPlanner
from bot.policies import load_policies
from bot.services.dry_run import DryRunSyncer
from bot.services.ports import JobKind
from bot.services.runs import RunService
from tests.helpers import PRDS, RedisProcess, clean_env
from tests.scale.procs import WORKER_WITH_SLOW_PLANNER, Proc, policy_dir, processes, started
from tests.scale.slow_planner import slow_prd

TINY = (PRDS / "02_taskmaster_test_prd_tiny.md").read_text()
LEASE_S, SCAN_S = 2.0, 0.5


async def _submit(runs: RunService, queue: SaqJobQueue, seconds: float) -> Run:
    run, _ = await runs.submit(slow_prd(TINY, seconds), source=Source.API, requester="ci")
    await queue.enqueue(JobKind.EXECUTE_RUN, run.run_id)
    return run


def _status(store: RedisRunStore, run_id: str, *wanted: RunStatus):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        try:
            return (await store.get(run_id)).status in wanted
        except StoreUnavailable:  # the test's own client, while Redis restarts (or loads its file)
            return False

    return check


async def _driver(leases: RunLeases, run_id: str, workers: list[Proc]) -> Proc:
    """The worker process holding the run's lease (the lease names host:pid)."""
    holder = await leases.holder(run_id)
    assert holder is not None
    pid = int(holder.split("/")[0].rsplit(":", 1)[1])
    return next(w for w in workers if w.popen.pid == pid)


async def test_a_killed_worker_s_run_is_planned_by_another_within_the_bound_and_a_stopped_one_hands_back(
    tmp_path: Path, own_redis: RedisProcess, own_client: aioredis.Redis, own_queue: SaqJobQueue
) -> None:
    policies = policy_dir(tmp_path, worker_lease_ttl_s=LEASE_S, recovery_scan_interval_s=SCAN_S)
    env = clean_env(tmp_path / "data", REDIS_URL=own_redis.url, PASS_POLICY_DIR=str(policies))
    store = RedisRunStore(own_client)
    runs = RunService(store, HeuristicPlanner(), DryRunSyncer(tmp_path / "out", reason="test"), load_policies(policies))
    leases = RunLeases(own_client, ttl_s=LEASE_S)
    with processes(tmp_path, env) as procs:
        workers = [procs.start(f"worker-{n}", WORKER_WITH_SLOW_PLANNER) for n in "ab"]
        for w in workers:
            await procs.until(started(w, "worker.started"), f"{w.name} starting")

        # SIGKILL mid-planning: no chance to hand anything back.
        first = await _submit(runs, own_queue, seconds=2)
        await procs.until(_status(store, first.run_id, RunStatus.PLANNING), "planning to start")
        victim = await _driver(leases, first.run_id, workers)
        victim.popen.send_signal(signal.SIGKILL)
        victim.popen.wait(timeout=10)
        killed_at = utcnow()
        await procs.until(_status(store, first.run_id, RunStatus.AWAITING_APPROVAL), "the survivor planning it")

        events = [e for _, e in await store.audit_events(run_id=first.run_id)]
        recovered = next(e for e in events if e.action == "run.recovered")
        assert "the worker running this run stopped (no heartbeat since" in recovered.reason
        # The stated bound (policies/limits.yml): lease + scan interval after the worker died,
        # plus a margin for a loaded machine. It is the feature's contract, not a speed figure.
        assert recovered.at - killed_at <= timedelta(seconds=LEASE_S + SCAN_S + 2)
        done = await store.get(first.run_id)
        assert done.recoveries == 1 and done.plan is not None
        assert [t.status for t in done.history].count(RunStatus.PLANNING) == 2, "planned again from the start"

        # SIGTERM mid-planning: the worker hands the run back at once and exits cleanly.
        survivor = next(w for w in workers if w is not victim)
        second = await _submit(runs, own_queue, seconds=30)
        await procs.until(_status(store, second.run_id, RunStatus.PLANNING), "the second run planning")
        assert survivor.stop(signal.SIGTERM) == 0
        handed = await store.get(second.run_id)
        assert handed.status is RunStatus.QUEUED and handed.recoveries == 0
        assert any(e.action == "run.handed_back" for _, e in await store.audit_events(run_id=second.run_id))
        state, _ = await own_queue.job_state(JobKind.EXECUTE_RUN, second.run_id, stale_after_s=LEASE_S)
        assert state is JobState.WAITING, "saq put the job back in the queue"
        assert await leases.holder(second.run_id) is None

        # A new worker picks it up from the queue (no recovery needed). Make it quick this time.
        third = procs.start("worker-c", WORKER_WITH_SLOW_PLANNER)
        await procs.until(_status(store, second.run_id, RunStatus.CHECKING, RunStatus.PLANNING), "worker c taking it")
        assert third.stop(signal.SIGTERM) == 0


async def test_a_redis_restart_mid_run_loses_nothing_and_the_runs_complete(
    tmp_path: Path, own_redis: RedisProcess, own_client: aioredis.Redis, own_queue: SaqJobQueue
) -> None:
    policies = policy_dir(tmp_path, worker_lease_ttl_s=LEASE_S, recovery_scan_interval_s=SCAN_S)
    env = clean_env(tmp_path / "data", REDIS_URL=own_redis.url, PASS_POLICY_DIR=str(policies))
    store = RedisRunStore(own_client)
    runs = RunService(store, HeuristicPlanner(), DryRunSyncer(tmp_path / "out", reason="test"), load_policies(policies))
    with processes(tmp_path, env) as procs:
        worker = procs.start("worker", [*WORKER_WITH_SLOW_PLANNER, "--concurrency", "2"])
        await procs.until(started(worker, "worker.started"), "the worker starting")
        planning = [await _submit(runs, own_queue, seconds=2) for _ in range(2)]
        waiting = await _submit(runs, own_queue, seconds=0)  # still in the queue when Redis goes
        for run in planning:
            await procs.until(_status(store, run.run_id, RunStatus.PLANNING), "planning to start")

        own_redis.stop()  # mid-planning; the append-only file keeps what was written
        await asyncio.sleep(0.5)
        own_redis.start()

        for run in [*planning, waiting]:
            await procs.until(_status(store, run.run_id, RunStatus.AWAITING_APPROVAL), "the run completing", 40)
        assert worker.stop() == 0
    assert {r.run_id for r in await store.list_runs()} == {r.run_id for r in [*planning, waiting]}
    head = await store.audit_head()
    assert check_chain(await store.audit_entries(), head=head).whole
