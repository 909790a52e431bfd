"""The run pipeline against a real redis-server: states, CAS, dedupe, approvals, audit chain."""

from __future__ import annotations

import asyncio
import json

import pytest

from bot.adapters.redis_store import AUDIT_STREAM, RedisRunStore, verify_chain
from bot.domain.models import Actor, Source
from bot.domain.status import RunStatus
from bot.errors import IllegalTransition, TransitionConflict
from bot.policies import ApprovalPolicy, ApprovalRule, Policies
from bot.services.approvals import Approvals
from bot.services.runs import RunService
from tests.helpers import PRDS, TEMPLATE_PRD, stop_line

TINY = (PRDS / "02_taskmaster_test_prd_tiny.md").read_bytes()


async def _staged(runs: RunService, requester: str = "U_REQ") -> str:
    run, _ = await runs.submit(TINY, source=Source.SLACK, requester=requester, channel="C1")
    run = await runs.execute(run.run_id)
    assert run.status is RunStatus.AWAITING_APPROVAL
    return run.run_id


async def test_two_runs_of_the_same_prd_are_two_runs(runs: RunService, store: RedisRunStore) -> None:
    a, _ = await runs.submit(TINY, source=Source.CLI, requester="me")
    b, _ = await runs.submit(TINY, source=Source.CLI, requester="me")
    assert a.run_id != b.run_id
    assert {r.run_id for r in await store.list_runs()} == {a.run_id, b.run_id}


async def test_a_redelivered_request_with_the_same_key_starts_no_second_run(runs: RunService) -> None:
    first, created = await runs.submit(TINY, source=Source.WEBHOOK, requester="hook", dedupe="delivery-1")
    again, created_again = await runs.submit(TINY, source=Source.WEBHOOK, requester="hook", dedupe="delivery-1")
    assert created and not created_again
    assert again.run_id == first.run_id


async def test_a_transition_from_the_wrong_state_is_refused(runs: RunService, store: RedisRunStore) -> None:
    run, _ = await runs.submit(TINY, source=Source.CLI, requester="me")
    with pytest.raises(TransitionConflict):
        await store.transition(
            run.run_id, RunStatus.PLANNING, RunStatus.VERIFYING, actor=Actor.SYSTEM, actor_id="t", action="t"
        )
    with pytest.raises(IllegalTransition):
        await store.transition(
            run.run_id, RunStatus.QUEUED, RunStatus.SYNCED, actor=Actor.SYSTEM, actor_id="t", action="t"
        )
    assert (await store.get(run.run_id)).status is RunStatus.QUEUED


async def test_two_workers_racing_on_one_run_move_it_once(runs: RunService, store: RedisRunStore) -> None:
    run, _ = await runs.submit(TINY, source=Source.CLI, requester="me")
    results = await asyncio.gather(
        *[
            store.transition(
                run.run_id, RunStatus.QUEUED, RunStatus.CHECKING, actor=Actor.SYSTEM, actor_id=f"w{i}", action="claim"
            )
            for i in range(5)
        ],
        return_exceptions=True,
    )
    assert sum(1 for r in results if not isinstance(r, BaseException)) == 1
    assert sum(1 for r in results if isinstance(r, TransitionConflict)) == 4


async def test_the_requester_cannot_approve_their_own_run(runs: RunService, approvals: Approvals) -> None:
    run_id = await _staged(runs, requester="U_REQ")
    outcome = await approvals.approve(run_id, user="U_REQ", via="slack", plan_hash=None)
    assert not outcome.accepted and "someone else" in outcome.message
    assert outcome.run.status is RunStatus.AWAITING_APPROVAL


async def test_a_stale_plan_hash_is_refused(runs: RunService, approvals: Approvals) -> None:
    run_id = await _staged(runs)
    outcome = await approvals.approve(run_id, user="U_OTHER", via="slack", plan_hash="0" * 64)
    assert not outcome.accepted and "older version" in outcome.message


async def test_double_click_and_two_approvers_at_once_approve_once(
    runs: RunService, approvals: Approvals, store: RedisRunStore
) -> None:
    run_id = await _staged(runs)
    plan_hash = (await store.get(run_id)).plan_hash
    outcomes = await asyncio.gather(
        approvals.approve(run_id, user="U_A", via="slack", plan_hash=plan_hash),
        approvals.approve(run_id, user="U_A", via="slack", plan_hash=plan_hash),
        approvals.approve(run_id, user="U_B", via="slack", plan_hash=plan_hash),
    )
    assert sum(o.now_approved for o in outcomes) == 1
    run = await store.get(run_id)
    assert run.status is RunStatus.APPROVED
    synced = await asyncio.gather(runs.sync(run_id), runs.sync(run_id), return_exceptions=True)
    assert sum(1 for s in synced if not isinstance(s, BaseException)) == 1
    assert (await store.get(run_id)).status is RunStatus.SYNCED


async def test_large_backlog_needs_two_distinct_approvers(store: RedisRunStore, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bot.planner.heuristic import HeuristicPlanner
    from bot.services.dry_run import DryRunSyncer

    rule = ApprovalRule(large_backlog_items=2, large_backlog_min_approvals=2)
    runs = RunService(
        store, HeuristicPlanner(), DryRunSyncer(tmp_path, reason="t"), Policies(approvals=ApprovalPolicy(default=rule))
    )
    run_id = await _staged(runs)
    approvals = stop_line(runs)
    first = await approvals.approve(run_id, user="U_A", via="slack", plan_hash=None)
    assert first.accepted and not first.now_approved and "1 of 2" in first.message
    second = await approvals.approve(run_id, user="U_B", via="slack", plan_hash=None)
    assert second.now_approved


async def test_template_prd_blocks_with_the_fix(runs: RunService) -> None:
    run, _ = await runs.submit(TEMPLATE_PRD.read_bytes(), source=Source.CLI, requester="me")
    run = await runs.execute(run.run_id)
    assert run.status is RunStatus.BLOCKED
    assert run.requirements[0].name == "PRD has content to plan" and not run.requirements[0].ok
    assert "template" in (run.requirements[0].fix or "")


async def test_a_crashing_planner_fails_the_run_with_a_diagnosis(store: RedisRunStore, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bot.planner.port import PlanningContext, PlanOutcome
    from bot.services.dry_run import DryRunSyncer

    class BrokenPlanner:
        name = "heuristic"

        async def plan(self, prd, context: PlanningContext) -> PlanOutcome:  # type: ignore[no-untyped-def]
            raise ValueError("the model returned nothing")

    runs = RunService(store, BrokenPlanner(), DryRunSyncer(tmp_path, reason="t"), Policies())
    run, _ = await runs.submit(TINY, source=Source.CLI, requester="me")
    run = await runs.execute(run.run_id)
    assert run.status is RunStatus.FAILED
    assert run.failure is not None and run.failure.step == "planning"
    assert "ValueError: the model returned nothing" in run.failure.message
    assert "test_runs_on_redis.py" in run.failure.diagnosis or "Where:" in run.failure.diagnosis


async def test_every_transition_of_a_full_run_is_audited_and_the_chain_holds(
    runs: RunService, approvals: Approvals, store: RedisRunStore
) -> None:
    run_id = await _staged(runs)
    await approvals.approve(run_id, user="U_OK", via="slack", plan_hash=None)
    await runs.sync(run_id)
    run = await store.get(run_id)
    events = [e for _, e in await store.audit_events(run_id=run_id)]
    statuses_audited = [e.status for e in events]
    for transition in run.history:
        assert transition.status.value in statuses_audited
    assert events[0].action == "run.requested"
    assert verify_chain(await store.audit_events())[0]


async def test_tampering_with_one_event_breaks_the_chain_there(runs: RunService, store: RedisRunStore) -> None:
    await _staged(runs)
    entries = await store.client.xrange(AUDIT_STREAM)
    victim_id, fields = entries[2]
    event = json.loads(fields["event"])
    event["actor_id"] = "someone-else"
    # Rewrite the stored event in place (same stream id) as an attacker with Redis access could.
    all_entries = [(i, f) for i, f in entries]
    await store.client.delete(AUDIT_STREAM)
    for stream_id, f in all_entries:
        value = json.dumps(event) if stream_id == victim_id else f["event"]
        await store.client.xadd(AUDIT_STREAM, {"event": value}, id=stream_id)
    whole, broken, why = verify_chain(await store.audit_events())
    assert not whole and broken == victim_id and "edited" in why
