"""Slack down (its Web API answering 503) never loses a card or a thread post.

The run goes on without Slack; the notifier retries each call a bounded number of times, then
gives up until the catch-up scan (every worker runs it each recovery interval) finds the cards
Slack missed and draws them, thread details included, exactly once.
"""

from __future__ import annotations

from bot.domain.status import RunStatus
from bot.slack.actions import ActionId
from tests.helpers import PRDS
from tests.slack.conftest import APPROVER, CHANNEL, Harness, button, card_text, has_buttons

SMALL_PRD = (PRDS / "03_taskmaster_prd_tm_start_small.md").read_text()
# The first try and the client's two retries.
ATTEMPTS_PER_CALL = 3


async def test_a_plan_staged_while_slack_is_down_reaches_its_approvers_when_slack_is_back(harness: Harness) -> None:
    reply = await harness.command(f"plan {SMALL_PRD}")
    assert reply.status == 200
    run = await harness.only_run()
    ref, _ = await harness.card(run.run_id)

    harness.fake.down = True
    assert await harness.drain() == 1
    run = await harness.store.get(run.run_id)
    assert run.status is RunStatus.AWAITING_APPROVAL, "Slack being down does not stop the run"
    assert harness.fake.refused_while_down > 0 and harness.fake.refused_while_down % ATTEMPTS_PER_CALL == 0
    # While Slack is still down a scan gives up at the first refusal: bounded, nothing marked done.
    refused = harness.fake.refused_while_down
    assert await harness.slack.notifier.catch_up() == 0
    assert harness.fake.refused_while_down == refused + ATTEMPTS_PER_CALL
    assert harness.fake.thread(CHANNEL, ref.ts) == []

    harness.fake.down = False
    assert await harness.slack.notifier.catch_up() == 1

    _, card = await harness.card(run.run_id)
    assert "Waiting for approval" in card_text(card) and has_buttons(card)
    thread = harness.fake.thread(CHANNEL, ref.ts)
    assert "Backlog" in " ".join(card_text(m) for m in thread)
    assert len(harness.fake.uploads) == 1, "the plan file is attached"
    # A second scan finds nothing behind and calls Slack for nothing.
    calls = len(harness.fake.calls)
    assert await harness.slack.notifier.catch_up() == 0
    assert len(harness.fake.calls) == calls

    # The card works: the approver approves from it.
    approve = button(card, ActionId.APPROVE)
    reply = await harness.click(ActionId.APPROVE, approve["value"], user=APPROVER, ts=ref.ts)
    assert reply.status == 200
    assert (await harness.store.get(run.run_id)).status is RunStatus.APPROVED
    assert len(harness.fake.thread(CHANNEL, ref.ts)) == len(thread), "no thread post twice"
    assert harness.fake.violations == []


async def test_slack_down_at_the_first_request_is_said_plainly_and_starts_nothing(harness: Harness) -> None:
    harness.fake.down = True
    reply = await harness.command(f"plan {SMALL_PRD}")

    assert reply.status == 200
    assert "could not check its Slack installation" in reply.text and "Nothing was started" in reply.text
    assert "reinstall" not in reply.text.lower()
    assert await harness.store.list_runs() == []


async def test_a_card_never_posted_because_slack_was_down_is_posted_once_it_is_back(harness: Harness) -> None:
    # Bolt has checked its token on an earlier request (the bot was up); then Slack's API goes down.
    assert (await harness.command("help")).status == 200
    harness.fake.down = True
    reply = await harness.command(f"plan {SMALL_PRD}")
    assert reply.status == 200
    run = await harness.only_run()
    [told] = harness.fake.ephemerals()
    assert f"Run `{run.run_id}` is planning" in told and "once Slack is back" in told
    assert await harness.cards.get(run.run_id) is None
    assert await harness.drain() == 1

    harness.fake.down = False
    assert await harness.slack.notifier.catch_up() == 1

    ref, card = await harness.card(run.run_id)
    assert ref.channel == CHANNEL and "Waiting for approval" in card_text(card)
    top_level = [p for p in harness.fake.of("chat.postMessage") if not p.get("thread_ts")]
    assert len(top_level) == 1, "one card, not one per missed change"
    assert len(harness.fake.thread(CHANNEL, ref.ts)) >= 1


async def test_a_channel_that_refuses_the_card_does_not_hold_up_the_other_cards(harness: Harness) -> None:
    harness.fake.channel_errors["CNOTIN"] = "not_in_channel"
    await harness.command(f"plan {SMALL_PRD}", channel="CNOTIN")
    [told] = [t for t in harness.fake.ephemerals() if "planning" in t]
    assert "/invite @PASS" in told
    harness.fake.down = True
    await harness.command(f"plan {SMALL_PRD}")
    assert await harness.drain() == 2
    harness.fake.down = False

    # The refused card is a per-message error, not an outage: the scan goes on to the other card.
    assert await harness.slack.notifier.catch_up() == 1
    [card] = [p for p in harness.fake.of("chat.postMessage") if not p.get("thread_ts") and p["channel"] == CHANNEL]
    assert "Waiting for approval" in card_text(card)
    assert [r.status for r in await harness.store.list_runs()] == [RunStatus.AWAITING_APPROVAL] * 2

    # Refused once, the run is left alone for a while: the next scans do not knock again.
    refused_posts = len([p for p in harness.fake.of("chat.postMessage") if p["channel"] == "CNOTIN"])
    assert await harness.slack.notifier.catch_up() == 0
    assert len([p for p in harness.fake.of("chat.postMessage") if p["channel"] == "CNOTIN"]) == refused_posts


async def test_a_run_synced_while_slack_was_down_has_its_card_brought_up_to_date(harness: Harness) -> None:
    await harness.command(f"plan {SMALL_PRD}")
    assert await harness.drain() == 1
    run = await harness.only_run()
    ref, card = await harness.card(run.run_id)
    approve = button(card, ActionId.APPROVE)
    assert (await harness.click(ActionId.APPROVE, approve["value"], user=APPROVER, ts=ref.ts)).status == 200

    harness.fake.down = True
    assert await harness.drain() == 1
    assert (await harness.store.get(run.run_id)).status is RunStatus.SYNCED
    harness.fake.down = False

    # The run has ended: the scan finds it among the runs that ended within the last hour.
    assert await harness.slack.notifier.catch_up() == 1
    _, card = await harness.card(run.run_id)
    assert not has_buttons(card), "no stale Approve button left on an ended run"
    assert f"Approved by <@{APPROVER}>" in card_text(card)
    assert await harness.slack.notifier.catch_up() == 0
