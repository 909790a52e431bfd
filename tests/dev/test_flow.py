"""The whole Slack flow through the dev page's own routes (no browser needed): what each person
sees, and what the real bot does with their typing and clicks."""

from __future__ import annotations

import json

from bot.entrypoints.dev.identities import ALICE, BOB, MALLORY
from bot.slack.actions import ActionId, ShortcutId, ViewId
from tests.dev.conftest import TINY_PRD, VERIFIED_REPO, Page, State, card, ephemerals, shown


def waiting(state: State) -> bool:
    return "Waiting for approval" in shown(card(state))


def details_posted(state: State) -> bool:
    """The card waits for approval and its thread has the plan attached (the last thread post)."""
    return waiting(state) and any(m["files"] for m in state["messages"])


async def test_a_plan_typed_on_the_page_is_staged_refused_to_its_requester_and_synced_by_an_approver(
    page: Page,
) -> None:
    await page.send(f"/pass plan {TINY_PRD}")
    staged = await page.until(details_posted, "the card reaching approval, with its thread")
    ts = card(staged)["ts"]  # type: ignore[index]
    thread = [m for m in staged["messages"] if m["thread_ts"] == ts and m["ts"] != ts]
    assert any("Backlog" in shown(m) for m in thread), "the backlog goes into the card's thread"
    assert any(m["files"] and m["files"][0]["name"].endswith(".md") for m in thread), "the plan is attached"

    await page.click(ts, ActionId.APPROVE.value, user=ALICE.id)
    seen = await page.until(lambda s: bool(ephemerals(s)), "alice's refusal")
    assert "You requested this run" in ephemerals(seen)[0]
    assert not ephemerals(await page.state(BOB.id)), "an ephemeral message is seen by its person only"

    await page.click(ts, ActionId.APPROVE.value, user=MALLORY.id)
    seen = await page.until(lambda s: bool(ephemerals(s)), "mallory's refusal", user=MALLORY.id)
    assert "approver list" in ephemerals(seen)[0]
    assert waiting(seen), "neither refusal changed the run"

    await page.click(ts, ActionId.APPROVE.value, user=BOB.id)
    synced = await page.until(lambda s: "Staged" in shown(card(s)) and "T03" in shown(card(s)), "the sync")
    final = card(synced)
    assert final is not None and final["edits"] > 0, "the card is updated in place"
    assert "dry run" in shown(final) and "Approved by <@U0BOB>" in shown(final)
    assert all(f"`T0{n}`" in shown(final) for n in (1, 2, 3)), "every staged issue key is listed"
    assert synced["violations_total"] == 0, "nothing PASS sent breaks a Slack limit"


async def test_rejecting_needs_a_reason_and_the_card_shows_who_rejected_and_why(page: Page) -> None:
    await page.send(f"/pass plan {TINY_PRD}")
    ts = card(await page.until(waiting, "the card reaching approval"))["ts"]  # type: ignore[index]
    await page.click(ts, ActionId.REJECT.value, user=BOB.id)
    opened = await page.until(lambda s: s["modal"] is not None, "the reject modal", user=BOB.id)
    modal = opened["modal"]
    assert modal["view"]["callback_id"] == ViewId.REJECT.value
    assert (await page.state(ALICE.id))["modal"] is None, "a modal opens for the person who clicked"

    status, _ = await page.act("submit", BOB.id, view_id=modal["id"], values={})
    assert status == 200
    refused = await page.state(BOB.id)
    assert refused["modal"]["errors"], "Slack does not submit a modal with a required field empty"

    reason = "Split the PRD first & keep <auth> out"
    await page.act("submit", BOB.id, view_id=modal["id"], values={"reason": {"value": reason}})
    rejected = await page.until(lambda s: "Rejected" in shown(card(s)), "the rejection", user=BOB.id)
    assert rejected["modal"] is None, "a modal acknowledged without errors closes"
    assert "Split the PRD first &amp; keep &lt;auth&gt; out" in shown(card(rejected))


async def test_choosing_no_items_is_answered_inside_the_modal(page: Page) -> None:
    await page.send(f"/pass plan {TINY_PRD}")
    ts = card(await page.until(waiting, "the card reaching approval"))["ts"]  # type: ignore[index]
    await page.click(ts, ActionId.CHOOSE_ITEMS.value, user=BOB.id)
    modal = (await page.until(lambda s: s["modal"] is not None, "the items modal", user=BOB.id))["modal"]
    items = [b["block_id"] for b in modal["view"]["blocks"] if b["type"] == "input"]
    await page.act("submit", BOB.id, view_id=modal["id"], values={b: {"selected": []} for b in items})
    answered = await page.until(lambda s: bool(s["modal"] and s["modal"]["errors"]), "PASS's answer", user=BOB.id)
    assert "Tick at least one item" in " ".join(answered["modal"]["errors"].values())

    await page.act("submit", BOB.id, view_id=modal["id"], values={items[0]: {"selected": ["T02"]}})
    synced = await page.until(lambda s: "Staged" in shown(card(s)), "the sync of one item", user=BOB.id)
    text = shown(card(synced))
    assert "`T02`" in text and "`T01`" not in text.split("Staged")[-1], "only the ticked item is staged"


async def test_help_and_unknown_commands_answer_only_the_person_who_typed(page: Page) -> None:
    await page.send("/pass help", user=MALLORY.id)
    await page.send("/deploy now", user=MALLORY.id)
    seen = await page.until(lambda s: len(ephemerals(s)) == 2, "two answers", user=MALLORY.id)
    assert "/pass plan" in ephemerals(seen)[0]
    assert "not a valid command" in ephemerals(seen)[1]
    assert not (await page.state(ALICE.id))["messages"]


async def test_mentioning_pass_in_a_thread_is_an_app_mention_answered_in_that_thread(page: Page) -> None:
    await page.send("Anyone around?", user=BOB.id)
    first = (await page.until(lambda s: bool(s["messages"]), "bob's message"))["messages"][0]
    await page.send("@PASS help", user=ALICE.id, thread_ts=first["ts"])
    answered = await page.until(
        lambda s: any(m["user"] == s["bot"]["id"] and m["thread_ts"] == first["ts"] for m in s["messages"]),
        "PASS's answer in the thread",
    )
    mention = next(m for m in answered["messages"] if m["user"] == ALICE.id)
    assert mention["text"] == "<@U0PASSBOT> help" and mention["thread_ts"] == first["ts"]


async def test_a_prd_pasted_on_the_line_after_the_command_keeps_its_title(page: Page) -> None:
    await page.send(f"/pass plan\n{TINY_PRD}")
    state = await page.until(waiting, "the card reaching approval")
    assert "PASS · Simple Todo App PRD" in shown(card(state))


async def test_pass_verify_is_answered_on_the_page_with_the_checks_found(page: Page) -> None:
    await page.send(f"/pass verify {VERIFIED_REPO}", user=BOB.id)
    seen = await page.until(lambda s: len(ephemerals(s)) == 2, "the acknowledgement and the findings", user=BOB.id)
    asked, answered = ephemerals(seen)
    assert f"Checking `{VERIFIED_REPO}` in the sandbox" in asked
    assert f"`{VERIFIED_REPO}`: all" in answered and "checks passed" in answered, answered
    assert "sandbox:" in answered, "the answer says which sandbox ran the checks"
    assert not ephemerals(await page.state(ALICE.id)), "only the person who asked sees the answer"


async def test_unticking_an_item_updates_the_count_in_the_modal(page: Page) -> None:
    await page.send(f"/pass plan {TINY_PRD}")
    ts = card(await page.until(waiting, "the card reaching approval"))["ts"]  # type: ignore[index]
    await page.click(ts, ActionId.CHOOSE_ITEMS.value, user=BOB.id)
    modal = (await page.until(lambda s: s["modal"] is not None, "the items modal", user=BOB.id))["modal"]
    assert "(3 now)" in shown_view(modal)
    group = next(b["block_id"] for b in modal["view"]["blocks"] if b["type"] == "input")

    status, body = await page.act(
        "change", BOB.id, view_id=modal["id"], block_id=group, values={group: {"selected": ["T02", "T03"]}}
    )
    assert status == 200, body
    redrawn = await page.until(
        lambda s: "(2 now)" in shown_view(s["modal"]), "the count following the tick", user=BOB.id
    )
    ticked = [
        o["value"]
        for b in redrawn["modal"]["view"]["blocks"]
        for o in (b.get("element") or {}).get("initial_options", [])
    ]
    assert ticked == ["T02", "T03"], "the redrawn modal keeps what is ticked"
    assert redrawn["violations_total"] == 0


async def test_the_message_shortcut_plans_a_prd_posted_as_a_message(page: Page) -> None:
    await page.send(TINY_PRD, user=BOB.id)
    posted = (await page.until(lambda s: bool(s["messages"]), "bob's message"))["messages"][0]
    status, body = await page.act("shortcut", ALICE.id, ts=posted["ts"], callback_id=ShortcutId.PLAN_WITH_PASS.value)
    assert status == 200, body

    def card_in_thread(state: State) -> State | None:
        return next(
            (m for m in state["messages"] if m["user"] == state["bot"]["id"] and m["thread_ts"] == posted["ts"]), None
        )

    staged = await page.until(
        lambda s: "Waiting for approval" in shown(card_in_thread(s)), "the card, in the thread of the message"
    )
    assert "PASS · Simple Todo App PRD" in shown(card_in_thread(staged))
    assert f"<@{ALICE.id}>" in shown(card_in_thread(staged)), "the person who used the shortcut requested the run"


def shown_view(modal: State | None) -> str:
    return "" if modal is None else json.dumps(modal["view"]["blocks"], ensure_ascii=False)
