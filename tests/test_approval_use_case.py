"""`Approvals.approve` is the whole approve use case: the rule looked up once, the person's groups
asked of the approver directory once, and the sync queued by the click that completes it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import PrivateAttr

from bot.adapters.queue import JobKind, SaqJobQueue
from bot.adapters.redis_store import RedisRunStore
from bot.bootstrap import build_approvals
from bot.domain.models import Run, Source
from bot.domain.status import RunStatus
from bot.planner.heuristic import HeuristicPlanner
from bot.policies import ApprovalPolicy, ApprovalRule, Policies
from bot.services.dry_run import DryRunSyncer
from bot.services.ports import QueueRunJob
from bot.services.runs import RunService
from tests.helpers import PRDS

TINY = (PRDS / "02_taskmaster_test_prd_tiny.md").read_bytes()


class RecordingPolicy(ApprovalPolicy):
    """The real policy, keeping the runs it was asked about."""

    _asked: list[str] = PrivateAttr(default_factory=list)

    def rule_for(self, run: Run) -> ApprovalRule:
        self._asked.append(run.run_id)
        return super().rule_for(run)


class RecordingDirectory:
    """An approver directory with fixed memberships that keeps every question it was asked."""

    def __init__(self, members: dict[str, set[str]]) -> None:
        self.members = members
        self.asked: list[tuple[str, list[str]]] = []

    async def member_of(self, user: str, groups: Sequence[str]) -> frozenset[str]:
        self.asked.append((user, list(groups)))
        return frozenset(g for g in groups if user in self.members.get(g, set()))


def _syncs_on(queue: SaqJobQueue) -> QueueRunJob:
    """The sync job on the real queue, as the Slack app wires it (bot/bootstrap.py)."""

    async def queue_sync(run_id: str) -> None:
        await queue.enqueue(JobKind.SYNC_RUN, run_id)

    return queue_sync


def _runs(store: RedisRunStore, tmp_path: Path, policy: ApprovalPolicy) -> RunService:
    syncer = DryRunSyncer(tmp_path / "runs", reason="test")
    return RunService(store, HeuristicPlanner(), syncer, Policies(approvals=policy))


async def _staged(runs: RunService) -> Run:
    run, _ = await runs.submit(TINY, source=Source.SLACK, requester="UREQ", channel="C1")
    run = await runs.execute(run.run_id)
    assert run.status is RunStatus.AWAITING_APPROVAL
    return run


async def test_a_group_members_click_asks_once_and_queues_the_sync(
    store: RedisRunStore, tmp_path: Path, queue: SaqJobQueue
) -> None:
    policy = RecordingPolicy(default=ApprovalRule(allow_users=[], allow_groups=["SLEADS", "SOPS"]))
    runs = _runs(store, tmp_path, policy)
    directory = RecordingDirectory({"SOPS": {"ULEAD"}})
    approvals = build_approvals(runs, approvers=directory, queue_sync=_syncs_on(queue))
    run = await _staged(runs)
    policy._asked.clear()

    outcome = await approvals.approve(run.run_id, user="ULEAD", via="slack", plan_hash=run.plan_hash)

    assert outcome.now_approved and outcome.run.status is RunStatus.APPROVED
    assert policy._asked == [run.run_id], "the approval rule was looked up once"
    assert directory.asked == [("ULEAD", ["SLEADS", "SOPS"])], "the directory was asked once, for the rule's groups"
    assert await queue.pending() == 1, "the sync job is queued"
    (event,) = [e for e in await store.run_events(run.run_id) if e.action == "approval.recorded"]
    assert event.detail["approver_groups"] == ["SOPS"]


async def test_someone_outside_the_groups_is_refused_and_nothing_is_queued(
    store: RedisRunStore, tmp_path: Path, queue: SaqJobQueue
) -> None:
    policy = RecordingPolicy(default=ApprovalRule(allow_users=[], allow_groups=["SLEADS"]))
    runs = _runs(store, tmp_path, policy)
    approvals = build_approvals(runs, approvers=RecordingDirectory({"SLEADS": {"ULEAD"}}), queue_sync=_syncs_on(queue))
    run = await _staged(runs)

    outcome = await approvals.approve(run.run_id, user="USTRANGER", via="slack", plan_hash=run.plan_hash)

    assert not outcome.accepted and (await store.get(run.run_id)).status is RunStatus.AWAITING_APPROVAL
    assert await queue.pending() == 0


async def test_a_person_named_by_id_is_not_looked_up(store: RedisRunStore, tmp_path: Path, queue: SaqJobQueue) -> None:
    policy = RecordingPolicy(default=ApprovalRule(allow_users=["UNAMED"], allow_groups=["SLEADS"]))
    runs = _runs(store, tmp_path, policy)
    directory = RecordingDirectory({})
    approvals = build_approvals(runs, approvers=directory, queue_sync=_syncs_on(queue))
    run = await _staged(runs)

    outcome = await approvals.approve(run.run_id, user="UNAMED", via="slack", plan_hash=run.plan_hash)

    assert outcome.now_approved and directory.asked == []


async def test_without_a_queue_the_caller_syncs_and_nothing_is_queued(
    store: RedisRunStore, tmp_path: Path, queue: SaqJobQueue
) -> None:
    """The CLI's stop-line: its operator's approval syncs in the foreground, not through a worker."""
    runs = _runs(store, tmp_path, ApprovalPolicy())
    run, _ = await runs.submit(TINY, source=Source.CLI, requester="me")
    run = await runs.execute(run.run_id)

    outcome = await build_approvals(runs).approve(
        run.run_id, user="cli:me", via="cli --yes", plan_hash=run.plan_hash, operator=True
    )

    assert outcome.now_approved
    assert await queue.pending() == 0
