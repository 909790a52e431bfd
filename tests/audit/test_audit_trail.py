"""Every state change of a run has its audit event, written in the same step, on the real Redis."""

from __future__ import annotations

from bot.adapters.redis_store import RedisRunStore
from bot.domain.audit import check_chain
from bot.domain.models import Actor, Failure, Source
from bot.domain.status import RunStatus
from bot.services.approvals import Approvals
from bot.services.diagnosis_posted import mark_diagnosis_posted
from bot.services.runs import RunService
from tests.helpers import PRDS

TINY = (PRDS / "02_taskmaster_test_prd_tiny.md").read_bytes()


async def test_every_transition_of_a_full_run_has_its_event_with_actor_and_run(
    runs: RunService, approvals: Approvals, store: RedisRunStore
) -> None:
    run, _ = await runs.submit(TINY, source=Source.SLACK, requester="U_REQ", channel="C1")
    run = await runs.execute(run.run_id)
    assert run.status is RunStatus.AWAITING_APPROVAL
    await approvals.approve(run.run_id, user="U_OK", via="slack", plan_hash=run.plan_hash)
    run = await runs.sync(run.run_id)
    assert run.status is RunStatus.SYNCED

    events = [e for _, e in await store.audit_events(run_id=run.run_id)]
    requested = events[0]
    assert (requested.action, requested.actor, requested.actor_id) == ("run.requested", Actor.HUMAN, "U_REQ")
    assert requested.detail["source"] == "slack" and requested.detail["requester"] == "U_REQ"
    # Same step: the event carries the very timestamp, status and actor kind of the transition.
    assert [t.status for t in run.history] == [
        RunStatus.CHECKING,
        RunStatus.PLANNING,
        RunStatus.VERIFYING,
        RunStatus.AWAITING_APPROVAL,
        RunStatus.APPROVED,
        RunStatus.SYNCING,
        RunStatus.SYNCED,
    ]
    for transition in run.history:
        matching = [
            e
            for e in events
            if e.status == transition.status.value and e.at == transition.at and e.actor == transition.actor
        ]
        assert len(matching) == 1, f"no single audit event for {transition.status.value}"
        assert matching[0].run_id == run.run_id
    by_action = {e.action: e for e in events}
    assert by_action["plan.proposed"].actor is Actor.AGENT
    assert by_action["plan.staged"].detail["plan_hash"] == run.plan_hash
    approval = by_action["approval.recorded"]
    assert (approval.actor, approval.actor_id, approval.status) == (Actor.HUMAN, "U_OK", "approved")
    assert by_action["sync.finished"].detail["dry_run"] is True
    assert check_chain(await store.audit_entries(), head=await store.audit_head()).whole


async def test_a_rejection_is_audited_with_who_and_why(
    runs: RunService, approvals: Approvals, store: RedisRunStore
) -> None:
    run, _ = await runs.submit(TINY, source=Source.SLACK, requester="U_REQ", channel="C1")
    await runs.execute(run.run_id)
    await approvals.reject(run.run_id, user="U_LEAD", reason="split it into two PRDs")
    last = (await store.audit_events(run_id=run.run_id))[-1][1]
    assert (last.action, last.actor, last.actor_id, last.status) == ("run.rejected", Actor.HUMAN, "U_LEAD", "rejected")
    assert last.reason == "split it into two PRDs"


async def test_a_failure_is_audited_with_its_diagnosis_and_its_posting_is_stamped(
    runs: RunService, store: RedisRunStore
) -> None:
    run, _ = await runs.submit(TINY, source=Source.SLACK, requester="U_REQ", channel="C1")
    await store.transition(
        run.run_id, RunStatus.QUEUED, RunStatus.CHECKING, actor=Actor.SYSTEM, actor_id="w", action="checking"
    )
    failure = Failure(step="checking", message="KeyError: 'repo'", diagnosis="Failed while checking. Where: x.py:1")
    await runs.fail(run.run_id, failure)
    failed = (await store.audit_events(run_id=run.run_id))[-1][1]
    assert (failed.action, failed.status, failed.actor) == ("run.failed", "failed", Actor.SYSTEM)
    assert failed.detail["diagnosis"] == "Failed while checking. Where: x.py:1"

    stamped = await mark_diagnosis_posted(store, run.run_id, where="slack:C1")
    again = await mark_diagnosis_posted(store, run.run_id, where="slack:C1")
    assert stamped.failure is not None and stamped.failure.diagnosed_at is not None
    assert again.failure is not None and again.failure.diagnosed_at == stamped.failure.diagnosed_at
    posted = [e for _, e in await store.audit_events(run_id=run.run_id) if e.action == "diagnosis.posted"]
    assert len(posted) == 1 and posted[0].detail["where"] == "slack:C1"
    assert stamped.status is RunStatus.FAILED
