"""The Approve button holds: the wrong person, a second click, a stale plan, a rejection."""

from __future__ import annotations

import asyncio
import json

from aiohttp.test_utils import TestServer

from bot.adapters.api_tokens import ApiTokenStore, parse_scopes
from bot.domain.models import Source
from bot.domain.status import RunStatus
from bot.entrypoints.web.intake import IntakeDeps, build_intake_app
from bot.policies import ApprovalPolicy, ApprovalRule, Policies
from bot.services.ports import JobKind
from bot.slack.actions import REJECT_REASON_BLOCK, REJECT_REASON_INPUT, SELECT_INPUT, ActionId, ViewId
from tests.helpers import PRDS
from tests.slack.conftest import APPROVER, CHANNEL, REQUESTER, Harness, HarnessFactory, card_text, has_buttons

TINY = (PRDS / "02_taskmaster_test_prd_tiny.md").read_text()
SMALL = (PRDS / "03_taskmaster_prd_tm_start_small.md").read_text()


async def _staged(h: Harness, prd: str = TINY) -> str:
    await h.command(f"plan {prd}")
    await h.drain()
    run = await h.only_run()
    assert run.status is RunStatus.AWAITING_APPROVAL
    return run.run_id


async def test_the_requester_cannot_approve_their_own_run(harness: Harness) -> None:
    run_id = await _staged(harness)
    await harness.click(ActionId.APPROVE, await harness.approve_value(run_id), user=REQUESTER)

    assert (await harness.store.get(run_id)).status is RunStatus.AWAITING_APPROVAL
    assert await harness.drain() == 0, "nothing was queued"
    (told,) = harness.fake.of("chat.postEphemeral")
    assert told["user"] == REQUESTER and told["channel"] == CHANNEL
    assert "You requested this run" in told["text"] and run_id in told["text"]


async def test_someone_off_the_channels_approver_list_is_refused(make_harness: HarnessFactory) -> None:
    policy = Policies(approvals=ApprovalPolicy(channels={CHANNEL: ApprovalRule(allow_users=[APPROVER])}))
    h = await make_harness(policy)
    run_id = await _staged(h)

    await h.click(ActionId.APPROVE, await h.approve_value(run_id), user="USTRANGER")
    assert (await h.store.get(run_id)).status is RunStatus.AWAITING_APPROVAL
    assert "not on this channel's or repo's approver list" in h.fake.ephemerals()[-1]

    await h.click(ActionId.APPROVE, await h.approve_value(run_id), user=APPROVER)
    assert (await h.store.get(run_id)).status is RunStatus.APPROVED


async def test_a_member_of_an_approver_group_may_approve(make_harness: HarnessFactory) -> None:
    policy = Policies(approvals=ApprovalPolicy(default=ApprovalRule(allow_users=[], allow_groups=["SLEADS"])))
    h = await make_harness(policy)
    h.fake.usergroups["SLEADS"] = ["ULEAD"]
    run_id = await _staged(h)

    await h.click(ActionId.APPROVE, await h.approve_value(run_id), user=APPROVER)
    assert (await h.store.get(run_id)).status is RunStatus.AWAITING_APPROVAL
    await h.click(ActionId.APPROVE, await h.approve_value(run_id), user="ULEAD")
    assert (await h.store.get(run_id)).status is RunStatus.APPROVED
    assert [c["usergroup"] for c in h.fake.of("usergroups.users.list")] == ["SLEADS", "SLEADS"]


async def test_two_approvers_clicking_at_once_start_one_sync(harness: Harness) -> None:
    run_id = await _staged(harness)
    value = await harness.approve_value(run_id)

    replies = await asyncio.gather(
        harness.click(ActionId.APPROVE, value, user=APPROVER),
        harness.click(ActionId.APPROVE, value, user="USECOND"),
        harness.click(ActionId.APPROVE, value, user=APPROVER),
    )
    assert all(r.status == 200 for r in replies)
    assert await harness.drain() == 1, "exactly one sync job"
    run = await harness.store.get(run_id)
    assert run.status is RunStatus.SYNCED
    started = [e for _, e in await harness.store.audit_events(run_id=run_id) if e.action == "sync.started"]
    assert len(started) == 1
    # The clicks that lost were told so, and nothing else happened for them.
    assert len(harness.fake.ephemerals()) == 2
    assert all("already approved" in t or "nothing to approve" in t for t in harness.fake.ephemerals())


async def test_a_second_click_after_approval_changes_nothing_and_says_so(harness: Harness) -> None:
    run_id = await _staged(harness)
    value = await harness.approve_value(run_id)
    await harness.click(ActionId.APPROVE, value, user=APPROVER)
    await harness.drain()
    await harness.click(ActionId.APPROVE, value, user="ULATE")

    assert await harness.drain() == 0
    assert (await harness.store.get(run_id)).status is RunStatus.SYNCED
    assert "This run is synced; there is nothing to approve." in harness.fake.ephemerals()[-1]


async def test_approving_a_plan_that_changed_since_the_card_was_drawn_is_refused(make_harness: HarnessFactory) -> None:
    two_people = Policies(approvals=ApprovalPolicy(default=ApprovalRule(min_approvals=2)))
    h = await make_harness(two_people)
    run_id = await _staged(h, SMALL)
    old_value = await h.approve_value(run_id)
    run = await h.store.get(run_id)
    assert run.plan is not None and len(run.plan.items) >= 2

    # The first approver narrows the plan to one item: a new plan, a new hash, a redrawn card.
    await h.click(ActionId.CHOOSE_ITEMS, old_value, user=APPROVER)
    (opened,) = h.fake.of("views.open")
    view = opened["view"]
    keep = view["blocks"][1]["element"]["options"][0]
    await h.submit(
        ViewId.SELECT_ITEMS.value,
        view["private_metadata"],
        {"items_0": {SELECT_INPUT: {"type": "checkboxes", "selected_options": [keep]}}},
        user=APPROVER,
    )
    narrowed = await h.store.get(run_id)
    assert narrowed.status is RunStatus.AWAITING_APPROVAL and narrowed.plan_hash != run.plan_hash
    assert [i.key for i in narrowed.plan.items] == [keep["value"]]  # type: ignore[union-attr]

    # A second approver clicking the button drawn for the old plan is refused…
    await h.click(ActionId.APPROVE, old_value, user="USECOND")
    assert "older version of the plan" in h.fake.ephemerals()[-1]
    assert (await h.store.get(run_id)).status is RunStatus.AWAITING_APPROVAL
    # …and the current card's button approves the plan that was chosen.
    await h.click(ActionId.APPROVE, await h.approve_value(run_id), user="USECOND")
    assert await h.drain() == 1
    synced = await h.store.get(run_id)
    assert synced.status is RunStatus.SYNCED and [i.key for i in synced.sync.issues] == [keep["value"]]


async def test_an_expired_plan_cannot_be_approved(make_harness: HarnessFactory) -> None:
    h = await make_harness()
    run_id = await _staged(h)
    # Three days pass: the staged time is moved back as the store's own transition would record it.
    run = await h.store.get(run_id)
    from datetime import timedelta

    from bot.domain.models import Actor

    history = [t.model_copy(update={"at": t.at - timedelta(hours=80)}) for t in run.history]
    await h.store.transition(
        run_id,
        RunStatus.AWAITING_APPROVAL,
        None,
        actor=Actor.SYSTEM,
        actor_id="test",
        action="test.clock",
        mutate=lambda r: r.model_copy(update={"history": history}),
    )
    await h.click(ActionId.APPROVE, await h.approve_value(run_id), user=APPROVER)
    assert "approval window has passed" in h.fake.ephemerals()[-1]
    assert (await h.store.get(run_id)).status is RunStatus.AWAITING_APPROVAL


async def test_reject_asks_for_a_reason_and_shows_who_rejected_and_why(harness: Harness) -> None:
    run_id = await _staged(harness)
    await harness.click(ActionId.REJECT, await harness.approve_value(run_id), user=APPROVER)
    (opened,) = harness.fake.of("views.open")
    view = opened["view"]
    assert view["callback_id"] == ViewId.REJECT.value and view["title"]["text"] == "Reject plan"

    reason = "Split the PRD first: <!channel> the auth items are out of scope"
    values = {REJECT_REASON_BLOCK: {REJECT_REASON_INPUT: {"type": "plain_text_input", "value": reason}}}
    reply = await harness.submit(ViewId.REJECT.value, view["private_metadata"], values, user=APPROVER)
    assert reply.status == 200

    run = await harness.store.get(run_id)
    assert run.status is RunStatus.REJECTED and run.approvals[-1].reason == reason
    _, card = await harness.card(run_id)
    shown = card_text(card)
    assert not has_buttons(card)
    assert f"Rejected by <@{APPROVER}>" in shown and "Split the PRD first" in shown
    assert "<!channel>" not in shown, "a reason is text, never a mention"
    assert await harness.drain() == 0


async def test_choosing_no_items_is_answered_inside_the_modal(harness: Harness) -> None:
    run_id = await _staged(harness)
    await harness.click(ActionId.CHOOSE_ITEMS, await harness.approve_value(run_id), user=APPROVER)
    (opened,) = harness.fake.of("views.open")
    reply = await harness.submit(ViewId.SELECT_ITEMS.value, opened["view"]["private_metadata"], {}, user=APPROVER)
    assert reply.json()["response_action"] == "errors"
    assert (await harness.store.get(run_id)).status is RunStatus.AWAITING_APPROVAL


async def test_when_slack_refuses_to_open_a_modal_the_person_hears_it_with_the_run_id(harness: Harness) -> None:
    run_id = await _staged(harness)
    harness.fake.failing["views.open"] = "expired_trigger_id"
    reply = await harness.click(ActionId.REJECT, await harness.approve_value(run_id), user=APPROVER)
    assert reply.status == 200
    told = harness.fake.ephemerals()[-1]
    assert "Something went wrong while handling that click" in told and run_id in told
    assert "expired_trigger_id" not in told, "error details stay in the log"
    assert (await harness.store.get(run_id)).status is RunStatus.AWAITING_APPROVAL


async def test_a_slack_connect_guest_from_another_team_cannot_approve_or_reject(harness: Harness) -> None:
    run_id = await _staged(harness)
    assert (await harness.store.get(run_id)).team_id == "T0PASS", "the run keeps the team it was asked from"
    value = await harness.approve_value(run_id)

    await harness.click(ActionId.APPROVE, value, user="UGUEST", team="T0PARTNER")
    assert (await harness.store.get(run_id)).status is RunStatus.AWAITING_APPROVAL
    assert await harness.drain() == 0, "nothing was queued"
    assert "another Slack workspace" in harness.fake.ephemerals()[-1]

    metadata = json.dumps({"v": 1, "run_id": run_id, "plan_hash": json.loads(value)["plan_hash"], "channel": CHANNEL})
    values = {REJECT_REASON_BLOCK: {REJECT_REASON_INPUT: {"type": "plain_text_input", "value": "no"}}}
    await harness.submit(ViewId.REJECT.value, metadata, values, user="UGUEST", team="T0PARTNER")
    assert (await harness.store.get(run_id)).status is RunStatus.AWAITING_APPROVAL
    assert "another Slack workspace" in harness.fake.ephemerals()[-1]

    await harness.click(ActionId.APPROVE, value, user=APPROVER)
    assert (await harness.store.get(run_id)).status is RunStatus.APPROVED


async def test_a_run_from_outside_slack_counts_only_approvers_of_pass_own_team(harness: Harness) -> None:
    run, _ = await harness.runs.submit(TINY, source=Source.WEBHOOK, requester="ops-bot", channel=CHANNEL)
    assert run.team_id is None
    await harness.queue.enqueue(JobKind.EXECUTE_RUN, run.run_id)
    await harness.drain()
    value = await harness.approve_value(run.run_id)

    await harness.click(ActionId.APPROVE, value, user="UGUEST", team="T0PARTNER")
    assert (await harness.store.get(run.run_id)).status is RunStatus.AWAITING_APPROVAL
    assert "another Slack workspace" in harness.fake.ephemerals()[-1]

    await harness.click(ActionId.APPROVE, value, user=APPROVER)
    assert (await harness.store.get(run.run_id)).status is RunStatus.APPROVED


async def test_a_user_an_api_caller_names_is_shown_on_behalf_and_cannot_approve(harness: Harness) -> None:
    tokens = ApiTokenStore(harness.store.client)
    token = await tokens.create("ci", parse_scopes("runs:write"))

    async def enqueue(run_id: str) -> None:
        await harness.queue.enqueue(JobKind.EXECUTE_RUN, run_id)

    api = TestServer(build_intake_app(IntakeDeps(harness.runs, tokens, enqueue)), host="127.0.0.1")
    await api.start_server()
    try:
        body = {"prd": TINY, "channel": CHANNEL, "requester": APPROVER}
        headers = {"Authorization": f"Bearer {token}"}
        async with harness.http.post(api.make_url("/api/runs"), json=body, headers=headers) as response:
            assert response.status == 202
            run_id = (await response.json())["run_id"]
    finally:
        await api.close()
    await harness.drain()
    run = await harness.store.get(run_id)
    assert run.requester == "api:ci" and run.on_behalf_of == APPROVER
    _, shown = await harness.card(run_id)
    assert f"requested by `api:ci` on behalf of <@{APPROVER}>" in card_text(shown)

    await harness.click(ActionId.APPROVE, await harness.approve_value(run_id), user=APPROVER)
    assert (await harness.store.get(run_id)).status is RunStatus.AWAITING_APPROVAL
    assert "on your behalf" in harness.fake.ephemerals()[-1]

    await harness.click(ActionId.APPROVE, await harness.approve_value(run_id), user="USECOND")
    assert (await harness.store.get(run_id)).status is RunStatus.APPROVED
