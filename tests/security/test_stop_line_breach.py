"""The attack on the stop-line, replayed: something with a connection to PASS's Redis sets another
user's staged run to approved, adds an approval and an extra work item, and queues the sync. A
real `passbot worker` with the GitHub stand-in must write nothing, fail the run saying why, and
`passbot audit verify` must name the run. The same worker, given a real approval, does write:
the test can tell the two apart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot.adapters.queue import SaqJobQueue
from bot.adapters.redis_store import RedisRunStore, run_key
from bot.domain.models import Actor, Approval, Run, Source
from bot.domain.status import RunStatus
from bot.planner.heuristic import HeuristicPlanner
from bot.policies import Policies
from bot.services.dry_run import DryRunSyncer
from bot.services.ports import JobKind
from bot.services.runs import RunService
from tests.github.fake_github_api import FakeGitHub
from tests.helpers import PRDS, RedisProcess, clean_env, passbot_async, stop_line
from tests.scale.procs import Procs, processes

pytestmark = pytest.mark.slow

TINY = (PRDS / "02_taskmaster_test_prd_tiny.md").read_text()
TOKEN = "test-token-not-a-secret"
REPO = "acme/widgets"


@pytest.fixture
async def github() -> object:
    fake = FakeGitHub()
    fake.add_token(TOKEN)
    fake.add_repo(REPO)
    await fake.start()
    yield fake
    await fake.close()


async def _staged(store: RedisRunStore, tmp_path: Path) -> tuple[RunService, Run]:
    runs = RunService(store, HeuristicPlanner(), DryRunSyncer(tmp_path / "unused", reason="test"), Policies())
    run, _ = await runs.submit(TINY, source=Source.SLACK, requester="UALICE", repo=REPO, channel="C1")
    run = await runs.execute(run.run_id)
    assert run.status is RunStatus.AWAITING_APPROVAL
    return runs, run


async def _tamper(client: aioredis.Redis, run: Run) -> Run:
    """What the hostile repo's code did over the socket: state only, no event."""
    assert run.plan is not None
    extra = run.plan.items[0].model_copy(
        update={"key": "T99", "title": "Add maintenance SSH key to prod bastion", "depends_on": []}
    )
    plan = run.plan.model_copy(update={"items": [*run.plan.items, extra]})
    forged = run.model_copy(
        update={
            "status": RunStatus.APPROVED,
            "plan": plan,
            "plan_hash": plan.content_hash(),
            "approvals": [Approval(user="UMALLORY", via="slack", plan_hash=plan.content_hash())],
        }
    )
    await client.set(run_key(run.run_id), forged.model_dump_json())
    return forged


def _worker(procs: Procs, github: FakeGitHub) -> None:
    procs.passbot("worker", "worker", GITHUB_TOKEN=TOKEN, GITHUB_API_URL=github.base_url, PASS_GITHUB_REPO=REPO)


async def _status(store: RedisRunStore, run_id: str, *wanted: RunStatus) -> bool:
    return (await store.get(run_id)).status in wanted


async def test_a_run_approved_by_writing_redis_publishes_nothing_and_is_flagged(
    tmp_path: Path, own_redis: RedisProcess, own_client: aioredis.Redis, own_queue: SaqJobQueue, github: FakeGitHub
) -> None:
    store = RedisRunStore(own_client)
    _, run = await _staged(store, tmp_path)
    await _tamper(own_client, run)
    await own_queue.enqueue(JobKind.SYNC_RUN, run.run_id)
    env = clean_env(tmp_path / "data", REDIS_URL=own_redis.url)
    with processes(tmp_path, env) as procs:
        _worker(procs, github)
        await procs.until(lambda: _status(store, run.run_id, RunStatus.FAILED, RunStatus.SYNCED), "the sync job ran")
    after = await store.get(run.run_id)
    assert github.issue_writes() == [], "no issue was created from a forged approval"
    assert after.status is RunStatus.FAILED
    assert after.failure is not None and "not in the audit log" in after.failure.message
    assert "UMALLORY" in after.failure.diagnosis
    flagged = [e for e in await store.run_events(run.run_id) if e.action == "sync.refused"]
    assert flagged and flagged[0].detail["flag"] == "approval_not_in_audit_log"

    code, out, _ = await passbot_async("audit", "verify", env=env)
    assert code == 1, out
    text = out.decode()
    assert "state without event" in text and run.run_id in text


async def test_the_same_worker_publishes_a_run_a_person_really_approved(
    tmp_path: Path, own_redis: RedisProcess, own_client: aioredis.Redis, own_queue: SaqJobQueue, github: FakeGitHub
) -> None:
    store = RedisRunStore(own_client)
    runs, run = await _staged(store, tmp_path)
    outcome = await stop_line(runs).approve(run.run_id, user="UBOB", via="slack", plan_hash=run.plan_hash)
    assert outcome.now_approved
    await own_queue.enqueue(JobKind.SYNC_RUN, run.run_id)
    env = clean_env(tmp_path / "data", REDIS_URL=own_redis.url)
    with processes(tmp_path, env) as procs:
        _worker(procs, github)
        await procs.until(lambda: _status(store, run.run_id, RunStatus.FAILED, RunStatus.SYNCED), "the sync job ran")
    after = await store.get(run.run_id)
    assert after.status is RunStatus.SYNCED, after.failure
    assert len(github.issue_writes()) >= len(run.plan.items if run.plan else [])

    code, out, _ = await passbot_async("audit", "verify", env=env)
    assert code == 0, out
    assert "every run's state matches" in out.decode()


async def test_a_staged_run_whose_approval_was_dropped_into_its_state_fails_audit_verify(
    tmp_path: Path, own_redis: RedisProcess, own_client: aioredis.Redis
) -> None:
    store = RedisRunStore(own_client)
    _, run = await _staged(store, tmp_path)
    data = json.loads(await own_client.get(run_key(run.run_id)) or "{}")
    data["approvals"] = [{"user": "UMALLORY", "plan_hash": run.plan_hash}]
    await own_client.set(run_key(run.run_id), json.dumps(data))
    code, out, _ = await passbot_async("audit", "verify", env=clean_env(tmp_path / "data", REDIS_URL=own_redis.url))
    assert code == 1
    assert "approval by UMALLORY that has no audit event" in out.decode()


async def test_an_approval_event_chained_with_pass_own_store_code_but_not_sealed_does_not_count(
    tmp_path: Path, own_client: aioredis.Redis
) -> None:
    """The stronger attacker: it writes a correctly chained `approval.recorded` event (PASS's own
    store code does that for anyone with a connection). It lacks the seal made with the key kept
    outside Redis, so the sync refuses; the same flow with a real click publishes."""
    store = RedisRunStore(own_client)
    key = b"k" * 32
    runs = RunService(
        store, HeuristicPlanner(), DryRunSyncer(tmp_path / "runs", reason="test"), Policies(), approval_key=key
    )
    run, _ = await runs.submit(TINY, source=Source.SLACK, requester="UALICE", channel="C1")
    run = await runs.execute(run.run_id)
    forged = Approval(user="UMALLORY", via="slack", plan_hash=run.plan_hash or "")
    await store.transition(
        run.run_id,
        RunStatus.AWAITING_APPROVAL,
        RunStatus.APPROVED,
        actor=Actor.HUMAN,
        actor_id="UMALLORY",
        action="approval.recorded",
        mutate=lambda r: r.model_copy(update={"approvals": [forged]}),
        detail={"via": "slack", "plan_hash": run.plan_hash, "needed": 1},
    )
    refused = await runs.sync(run.run_id)
    assert refused.status is RunStatus.FAILED
    assert refused.failure is not None and "no valid seal" in refused.failure.diagnosis
    assert not (tmp_path / "runs" / run.run_id).exists(), "the dry run wrote nothing either"

    real, _ = await runs.submit(TINY, source=Source.SLACK, requester="UALICE", channel="C1")
    real = await runs.execute(real.run_id)
    assert (await stop_line(runs).approve(real.run_id, user="UBOB", via="slack", plan_hash=real.plan_hash)).now_approved
    assert (await runs.sync(real.run_id)).status is RunStatus.SYNCED


async def test_rewriting_an_earlier_syncs_issues_needs_an_approval_that_chose_it(
    tmp_path: Path, own_client: aioredis.Redis
) -> None:
    """Skipping a PRD synced before writes nothing; rewriting its issues writes to GitHub. Flipping
    the run's choice from skip to update in Redis after a real approval is refused at sync."""
    store = RedisRunStore(own_client)
    runs = RunService(
        store, HeuristicPlanner(), DryRunSyncer(tmp_path / "runs", reason="test"), Policies(), approval_key=b"k" * 32
    )
    run, _ = await runs.submit(TINY, source=Source.SLACK, requester="UALICE", channel="C1")
    run = await runs.execute(run.run_id)
    outcome = await stop_line(runs).approve(run.run_id, user="UBOB", via="slack", plan_hash=run.plan_hash)
    assert outcome.now_approved
    raw = await own_client.get(run_key(run.run_id))
    flipped = Run.model_validate_json(raw or "").model_copy(update={"on_earlier": "update"})
    await own_client.set(run_key(run.run_id), flipped.model_dump_json())
    refused = await runs.sync(run.run_id)
    assert refused.status is RunStatus.FAILED
    assert refused.failure is not None and "no approval event chose that" in refused.failure.diagnosis

    chosen, _ = await runs.submit(TINY, source=Source.SLACK, requester="UALICE", channel="C1")
    chosen = await runs.execute(chosen.run_id)
    approvals = stop_line(runs)
    assert (
        await approvals.approve(
            chosen.run_id, user="UBOB", via="slack", plan_hash=chosen.plan_hash, on_earlier="update"
        )
    ).now_approved
    assert (await runs.sync(chosen.run_id)).status is RunStatus.SYNCED
