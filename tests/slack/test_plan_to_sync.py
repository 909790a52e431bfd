"""The whole Slack flow over real HTTP: /pass plan → card → thread → Approve → synced (dry run)."""

from __future__ import annotations

from bot.domain.status import RunStatus
from bot.slack.actions import ActionId
from tests.helpers import PRDS
from tests.slack.conftest import APPROVER, CHANNEL, REQUESTER, Harness, button, card_text, has_buttons

SMALL_PRD = (PRDS / "03_taskmaster_prd_tm_start_small.md").read_text()


async def test_a_plan_becomes_a_card_that_an_allowed_person_approves_and_pass_syncs(harness: Harness) -> None:
    reply = await harness.command(f"plan {SMALL_PRD}")
    assert reply.status == 200

    run = await harness.only_run()
    assert run.status is RunStatus.QUEUED and run.requester == REQUESTER and run.channel == CHANNEL
    ref, card = await harness.card(run.run_id)
    assert ref.channel == CHANNEL and "Queued" in card_text(card)

    assert await harness.drain() == 1
    run = await harness.store.get(run.run_id)
    assert run.status is RunStatus.AWAITING_APPROVAL
    _, card = await harness.card(run.run_id)
    assert "Waiting for approval" in card_text(card)
    # The card was updated in place, once per step, never re-posted.
    updates = [u for u in harness.fake.of("chat.update") if u["ts"] == ref.ts]
    assert len(updates) >= 3
    assert len([p for p in harness.fake.of("chat.postMessage") if "thread_ts" not in p or not p["thread_ts"]]) == 1

    # The thread holds the details, and the full plan is attached as markdown.
    thread = harness.fake.thread(CHANNEL, ref.ts)
    texts = " ".join(card_text(m) for m in thread)
    assert "Backlog" in texts and "Findings" in texts
    assert all(item.key in texts for item in run.plan.items)  # type: ignore[union-attr]
    (upload,) = harness.fake.uploads.values()
    assert run.plan is not None and run.plan.items[0].title.encode() in upload
    (completed,) = harness.fake.of("files.completeUploadExternal")
    assert completed["channel_id"] == CHANNEL and completed["thread_ts"] == ref.ts

    approve = button(card, ActionId.APPROVE)
    assert approve["confirm"]["title"]["text"] == "Approve this plan?"
    reply = await harness.click(ActionId.APPROVE, approve["value"], user=APPROVER, ts=ref.ts)
    assert reply.status == 200
    assert (await harness.store.get(run.run_id)).status is RunStatus.APPROVED

    assert await harness.drain() == 1
    run = await harness.store.get(run.run_id)
    assert run.status is RunStatus.SYNCED
    assert run.sync.dry_run and len(run.sync.issues) == len(run.plan.items)  # type: ignore[union-attr]
    _, card = await harness.card(run.run_id)
    shown = card_text(card)
    assert not has_buttons(card), "the buttons are replaced by the decision"
    assert f"Approved by <@{APPROVER}>" in shown and "<!date^" in shown
    assert "Staged" in shown
    assert harness.fake.violations == []
