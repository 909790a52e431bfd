"""A sync that meets GitHub's rate limit waits (the run says until when) and goes on later, through
the real queue and a fake GitHub on loopback; past the bounded number of waits it fails."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from github import Auth

from bot.adapters.github_tracker import GitHubTracker
from bot.adapters.queue import SaqJobQueue
from bot.adapters.redis_store import RedisRunStore
from bot.adapters.redis_sync_ledger import RedisSyncLedger
from bot.domain.models import Source
from bot.domain.recovery import JobState
from bot.domain.status import RunStatus
from bot.entrypoints.worker import build_worker, drain
from bot.planner.heuristic import HeuristicPlanner
from bot.policies import Limits, Policies
from bot.services.github_sync import GitHubSyncer
from bot.services.ports import JobKind
from bot.services.runs import RunService
from bot.services.write_pacing import RetryPolicy, WritePacer
from tests.github.fake_github_api import SECONDARY_LIMIT_MESSAGE, FakeGitHub, Fault
from tests.helpers import PRDS, stop_line

TINY = (PRDS / "02_taskmaster_test_prd_tiny.md").read_text()
TOKEN = "test-token-not-a-secret"
REPO = "acme/widgets"


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    fake = FakeGitHub()
    fake.add_token(TOKEN)
    fake.add_repo(REPO)
    await fake.start()
    yield fake
    await fake.close()


def _runs(store: RedisRunStore, github: FakeGitHub, max_sync_deferrals: int) -> RunService:
    syncer = GitHubSyncer(
        GitHubTracker(auth=Auth.Token(TOKEN), base_url=github.base_url, timeout=2, seconds_between_requests=0),
        RedisSyncLedger(store),
        default_repo=REPO,
        pacer=WritePacer(min_interval=0.0, limits=()),
        # A wait longer than half a second is not slept through by the syncer: it reaches the job.
        retry_policy=RetryPolicy(max_attempts=3, max_wait=0.5),
    )
    return RunService(store, HeuristicPlanner(), syncer, Policies(limits=Limits(max_sync_deferrals=max_sync_deferrals)))


async def _approved(runs: RunService, queue: SaqJobQueue) -> str:
    run, _ = await runs.submit(TINY, source=Source.API, requester="ci", repo=REPO)
    run = await runs.execute(run.run_id)
    assert run.status is RunStatus.AWAITING_APPROVAL
    assert (await stop_line(runs).approve(run.run_id, user="UAPP", via="test", plan_hash=run.plan_hash)).now_approved
    await queue.enqueue(JobKind.SYNC_RUN, run.run_id)
    return run.run_id


def _rate_limited() -> Fault:
    return Fault("POST", "/issues", status=403, body={"message": SECONDARY_LIMIT_MESSAGE}, headers={"Retry-After": "1"})


async def test_a_rate_limited_sync_waits_saying_until_when_then_creates_each_issue_once(
    store: RedisRunStore, queue: SaqJobQueue, github: FakeGitHub
) -> None:
    runs = _runs(store, github, max_sync_deferrals=3)
    run_id = await _approved(runs, queue)
    github.faults.append(_rate_limited())
    worker = build_worker(queue, runs, dequeue_timeout_s=0.05)

    assert await drain(worker) == 1
    waiting = await store.get(run_id)
    assert waiting.status is RunStatus.SYNCING, "not failed: it waits"
    assert waiting.waiting is not None
    assert waiting.waiting.startswith("Waiting for GitHub's rate limit to reset (HTTP 403); the sync continues at")
    assert "(wait 1 of 3)" in waiting.waiting
    state, _ = await queue.job_state(JobKind.SYNC_RUN, run_id, stale_after_s=30)
    assert state is JobState.WAITING

    while not await queue.saq.schedule():  # due after GitHub's Retry-After
        await asyncio.sleep(0.1)
    assert await drain(worker) == 1
    synced = await store.get(run_id)
    assert synced.status is RunStatus.SYNCED and synced.waiting is None
    created = [i.number for i in synced.sync.issues]
    assert all(created) and len(set(created)) == len(created)
    assert len(github.repos[REPO].issues) == len(created) + 1, "each item and the tracking issue, once"


async def test_a_sync_still_rate_limited_after_its_waits_fails_with_the_reason(
    store: RedisRunStore, queue: SaqJobQueue, github: FakeGitHub
) -> None:
    runs = _runs(store, github, max_sync_deferrals=0)
    run_id = await _approved(runs, queue)
    github.faults.append(_rate_limited())

    await drain(build_worker(queue, runs, dequeue_timeout_s=0.05))
    failed = await store.get(run_id)
    assert failed.status is RunStatus.FAILED and failed.failure is not None
    assert failed.failure.step == "syncing" and "rate limit" in failed.failure.message.lower()


async def test_github_unreachable_at_sync_says_what_was_tried_for_how_long_and_what_to_do(
    store: RedisRunStore, queue: SaqJobQueue, github: FakeGitHub
) -> None:
    syncer = GitHubSyncer(
        GitHubTracker(auth=Auth.Token(TOKEN), base_url=github.base_url, timeout=2, seconds_between_requests=0),
        RedisSyncLedger(store),
        default_repo=REPO,
        pacer=WritePacer(min_interval=0.0, limits=()),
        retry_policy=RetryPolicy(max_attempts=3, unavailable_wait=0.01),
    )
    runs = RunService(store, HeuristicPlanner(), syncer, Policies(limits=Limits(max_sync_deferrals=0)))
    run_id = await _approved(runs, queue)
    await github.close()  # GitHub goes away between the approval and the sync

    await drain(build_worker(queue, runs, dequeue_timeout_s=0.05))
    failed = await store.get(run_id)
    assert failed.status is RunStatus.FAILED and failed.failure is not None
    said = f"{failed.failure.message} {failed.failure.diagnosis}"
    assert "Where:" not in said and "bot/" not in said, "a source location is no fix"
    assert f"GitHub did not answer (ConnectionError) at {github.base_url}" in said
    assert "Tried: 3 attempt(s) of the last call over " in said
    assert "since the sync started" in said
    assert "What to do: check that the worker's host reaches" in said and "max_sync_deferrals" in said
