"""A PRD that says "payload" is planned like any other, over HTTP and over Socket Mode (issue #17).

slack_bolt treats any form body containing the substring "payload" as an interactivity payload;
a slash command carrying a webhook spec used to reach no listener and Slack showed `http_404`.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

from bot.domain.status import RunStatus
from bot.slack.actions import ActionId
from bot.slack.request_body import parse_slack_body
from tests.helpers import PRDS
from tests.slack import slack_requests as sr
from tests.slack.conftest import CHANNEL, REQUESTER, Harness, button, card_text
from tests.slack.fake_slack import APP_TOKEN

SPEC = (PRDS / "speckit" / "webhook-relay-spec.md").read_text()


def test_the_spec_says_payload_so_it_exercises_the_bug() -> None:
    assert SPEC.count("payload") >= 5
    assert Path(PRDS / "speckit" / "SOURCE.md").exists()


async def _staged_with_a_card(harness: Harness) -> None:
    assert await harness.drain() >= 1
    run = await harness.only_run()
    assert run.status == RunStatus.AWAITING_APPROVAL
    assert run.prd is not None
    assert {"FR-001", "FR-007"} <= {r.id for r in run.prd.requirements}
    _, shown = await harness.card(run.run_id)
    assert button(shown, ActionId.APPROVE)
    assert "Signed Webhook Relay" in card_text(shown)


async def test_a_slash_command_with_a_spec_saying_payload_stages_a_run_over_signed_http(harness: Harness) -> None:
    reply = await harness.command(f"plan {SPEC}")

    assert reply.status == 200, reply.text
    assert harness.fake.violations == []
    await _staged_with_a_card(harness)


async def test_the_same_spec_through_socket_mode_stages_a_run(harness: Harness) -> None:
    handler = AsyncSocketModeHandler(harness.slack.bolt, APP_TOKEN)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    try:
        form = sr.slash_command(
            f"plan {SPEC}", user=REQUESTER, channel=CHANNEL, response_url=harness.fake.response_url("sm")
        )
        # Socket Mode hands Bolt the envelope's payload already decoded (a dict), as Slack sends it.
        ack = await harness.fake.deliver("slash_commands", dict(parse_qsl(form)))
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]

    assert ack["envelope_id"].startswith("env-")
    await _staged_with_a_card(harness)


def test_a_form_field_named_payload_is_interactivity_and_anything_else_is_a_form() -> None:
    form = "command=%2Fpass&text=relay+the+payload+once"
    assert parse_slack_body(form, "application/x-www-form-urlencoded") == {
        "command": "/pass",
        "text": "relay the payload once",
    }
    interactive = "payload=%7B%22type%22%3A%22block_actions%22%7D"
    assert parse_slack_body(interactive, "application/x-www-form-urlencoded") == {"type": "block_actions"}
    assert parse_slack_body('{"type": "event_callback"}', "application/json") == {"type": "event_callback"}
    assert parse_slack_body("", None) == {}
