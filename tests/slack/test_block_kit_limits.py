"""Every message and modal PASS sends, for every real PRD, stays inside Slack's Block Kit limits."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot.domain.models import (
    Approval,
    ArchitecturePack,
    Plan,
    Prd,
    Requirement,
    Run,
    Source,
    SyncedIssue,
    SyncResult,
    WorkItem,
    utcnow,
)
from bot.domain.status import RunStatus
from bot.services.runs import RunService
from bot.slack.actions import ModalContext
from bot.slack.block_kit import section
from bot.slack.card_blocks import CardContext, status_card
from bot.slack.limits import MESSAGE_BLOCKS, check_message, check_view
from bot.slack.modal_blocks import reject_modal, select_items_modal
from bot.slack.thread_blocks import synced_pages, thread_details
from tests.helpers import PRDS

ALL_PRDS = sorted(PRDS.glob("*.md"))


def _every_payload(run: Run) -> list[tuple[str, dict[str, object]]]:
    now = utcnow()
    ctx = CardContext(now=now, approvals_needed=2, approval_deadline=now + timedelta(hours=72))
    out: list[tuple[str, dict[str, object]]] = [("card", status_card(run, ctx))]
    out += [("thread", m) for m in thread_details(run)]
    if run.plan is not None and run.plan_hash is not None:
        modal = ModalContext(run_id=run.run_id, plan_hash=run.plan_hash, channel="C1")
        out += [
            ("reject modal", reject_modal(run, modal)),
            ("select modal", select_items_modal(run, modal)),
        ]
        long_reason = "x" * 1000
        decided = run.model_copy(
            update={
                "status": RunStatus.SYNCED,
                "approvals": [Approval(user="U1", plan_hash=run.plan_hash, reason=long_reason)],
                "sync": SyncResult(
                    target="acme/todo",
                    dry_run=False,
                    issues=[
                        SyncedIssue(key=i.key, number=n, url=f"https://github.com/acme/todo/issues/{n}")
                        for n, i in enumerate(run.plan.items, start=1)
                    ],
                ),
            }
        )
        out.append(("synced card", status_card(decided, ctx)))
        out += [("synced thread", m) for m in synced_pages(decided)]
        syncing = run.model_copy(update={"status": RunStatus.SYNCING})
        out.append(("syncing card", status_card(syncing, CardContext(now=now, sync_progress=(3, 9)))))
    return out


@pytest.mark.parametrize("prd", ALL_PRDS, ids=lambda p: p.name)
async def test_every_payload_for_this_prd_is_within_slacks_limits(runs: RunService, prd: Path) -> None:
    run, _ = await runs.submit(prd.read_bytes(), source=Source.SLACK, requester="U1", channel="C1")
    run = await runs.execute(run.run_id)
    payloads = _every_payload(run)
    problems = [
        (name, str(v)) for name, p in payloads for v in (check_view(p) if name.endswith("modal") else check_message(p))
    ]
    assert problems == []
    if run.plan is not None:
        shown = " ".join(str(m) for name, m in payloads if name == "thread")
        assert all(i.key in shown for i in run.plan.items), "every item is somewhere in the thread"


def test_a_plan_far_larger_than_any_prd_still_fits() -> None:
    long = "word " * 2000
    items = [
        WorkItem(
            key=f"ITEM-{n:03d}",
            title=long[:300],
            body=long,
            requirement_ids=[f"FR-{n}"] * 30,
            depends_on=[f"ITEM-{n - 1:03d}"] if n else [],
            labels=["x" * 40] * 10,
            acceptance_criteria=[long[:500]] * 12,
        )
        for n in range(200)
    ]
    arch = ArchitecturePack(
        overview=long * 3,
        components=[{"name": long[:100], "responsibility": long}] * 50,
        data_flow=[long] * 20,
        risks=[long] * 20,
    )
    prd = Prd(
        sha256="0" * 64, title=long[:500], requirements=[Requirement(id=f"FR-{n}", text=long) for n in range(200)]
    )
    plan = Plan(summary=long, architecture=arch, items=items)
    run = Run(
        run_id="bigrun",
        status=RunStatus.AWAITING_APPROVAL,
        prd=prd,
        plan=plan,
        plan_hash=plan.content_hash(),
        requester="U1",
        channel="C1",
    )
    payloads = _every_payload(run)
    problems = [
        (name, str(v)) for name, p in payloads for v in (check_view(p) if name.endswith("modal") else check_message(p))
    ]
    assert problems == []
    card = status_card(run, CardContext(now=utcnow()))
    assert len(card["blocks"]) < MESSAGE_BLOCKS


def test_the_checker_catches_what_slack_would_refuse() -> None:
    too_many = {"text": "t", "blocks": [section("x")] * 51}
    long_section = {"text": "t", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]}
    long_button = {
        "text": "t",
        "blocks": [
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "b" * 76}, "value": "v"}
                ],
            }
        ],
    }
    no_fallback = {"blocks": [section("x")]}
    rules = {v.rule for m in (too_many, long_section, long_button, no_fallback) for v in check_message(m)}
    assert rules == {"blocks", "text length", "fallback text missing beside blocks"}
    assert check_view({"title": {"type": "plain_text", "text": "A title longer than 24 chars"}, "blocks": []})


def test_a_waiting_run_says_on_its_card_what_it_waits_for() -> None:
    waiting = "Waiting for a free slot: 10 run(s) of this workspace are planning <!channel>"
    run = Run(run_id="w1", status=RunStatus.QUEUED, requester="U1", channel="C1", waiting=waiting)
    card = status_card(run, CardContext(now=utcnow()))
    text = json.dumps(card["blocks"])
    assert "Waiting for a free slot" in text
    assert "<!channel>" not in text  # untrusted text is escaped, never a mention
    assert check_message(card) == []
