"""The same PRD planned again for the same repo: the card says it was synced before and by which
run, and the approver chooses to skip (nothing is written) or to update those issues in place."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from github import Auth

from bot.adapters.github_tracker import GitHubTracker
from bot.adapters.redis_store import RedisRunStore
from bot.adapters.redis_sync_ledger import RedisSyncLedger
from bot.domain.models import Run
from bot.domain.status import RunStatus
from bot.services.github_sync import GitHubSyncer
from bot.services.write_pacing import WritePacer
from bot.slack.actions import ActionId
from tests.github.fake_github_api import FakeGitHub
from tests.helpers import PRDS
from tests.slack.conftest import APPROVER, Harness, HarnessFactory, button, card_text, has_buttons

TOKEN = "ghp_" + "t" * 36
REPO = "acme/widgets"
PRD = (PRDS / "02_taskmaster_test_prd_tiny.md").read_text()


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    fake = FakeGitHub()
    fake.add_token(TOKEN)
    fake.add_repo(REPO, private=True)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def harness(make_harness: HarnessFactory, github: FakeGitHub, redis_client: object) -> Harness:
    tracker = GitHubTracker(auth=Auth.Token(TOKEN), base_url=github.base_url, timeout=2, seconds_between_requests=0)
    store = RedisRunStore(redis_client)  # type: ignore[arg-type]
    syncer = GitHubSyncer(tracker, RedisSyncLedger(store), pacer=WritePacer(min_interval=0.0, limits=()))
    return await make_harness(syncer=syncer)


async def plan_to_card(harness: Harness) -> tuple[Run, str, dict[str, object]]:
    before = {r.run_id for r in await harness.store.list_runs()}
    assert (await harness.command(f"plan repo={REPO} {PRD}")).status == 200
    assert await harness.drain() == 1
    (run,) = [r for r in await harness.store.list_runs() if r.run_id not in before]
    assert run.status is RunStatus.AWAITING_APPROVAL, run.status
    ref, card = await harness.card(run.run_id)
    return run, ref.ts, card


async def test_a_second_approval_of_the_same_prd_creates_nothing_and_update_rewrites_in_place(
    harness: Harness, github: FakeGitHub
) -> None:
    first, ts, card = await plan_to_card(harness)
    assert "already synced" not in card_text(card)
    await harness.click(ActionId.APPROVE, button(card, ActionId.APPROVE)["value"], user=APPROVER, ts=ts)
    await harness.drain()
    assert (await harness.store.get(first.run_id)).status is RunStatus.SYNCED
    created = len(github.repos[REPO].issues)
    writes = len(github.writes())

    again, ts, card = await plan_to_card(harness)
    shown = card_text(card)
    assert f"This PRD was already synced to {REPO} as #1–#{created} by run {first.run_id}." in shown
    skip, update = button(card, ActionId.APPROVE), button(card, ActionId.APPROVE_UPDATE)
    assert skip["text"]["text"] == "Approve (skip)" and update["text"]["text"] == "Approve and update"
    assert "will write nothing" in skip["confirm"]["text"]["text"]
    await harness.click(ActionId.APPROVE, skip["value"], user=APPROVER, ts=ts)
    await harness.drain()
    skipped = await harness.store.get(again.run_id)
    assert skipped.status is RunStatus.SYNCED
    assert len(github.writes()) == writes, "approving the same PRD again wrote to GitHub"
    _, card = await harness.card(again.run_id)
    assert not has_buttons(card) and "Nothing was written" in card_text(card)

    third, ts, card = await plan_to_card(harness)
    assert f"by run {first.run_id}" in card_text(card), "a skipped run is not the one that wrote the issues"
    await harness.click(ActionId.APPROVE_UPDATE, button(card, ActionId.APPROVE_UPDATE)["value"], user=APPROVER, ts=ts)
    await harness.drain()
    updated = await harness.store.get(third.run_id)
    assert updated.status is RunStatus.SYNCED, updated.failure
    assert len(github.repos[REPO].issues) == created, "update creates no new issue"
    assert {r.method for r in github.writes()[writes:]} == {"PATCH"}
    assert [i.number for i in updated.sync.issues] == [i.number for i in skipped.sync.issues]
    assert all(third.run_id in i["body"] for i in github.repos[REPO].issues), "each issue now names the new run"
    assert harness.fake.violations == [], "every card and thread post stays within Slack's limits"
