"""The stand-in plays Slack faithfully: its signatures, the request shapes, its Web API's answers,
and the Block Kit limits it shows instead of hiding."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.entrypoints.dev import payloads
from bot.entrypoints.dev.identities import ALICE, BOB, CHANNEL_ID
from bot.entrypoints.dev.signing import sign, signed_headers
from bot.entrypoints.dev.workspace import Message
from tests.dev.conftest import Page, ephemerals
from tests.helpers import REPO_ROOT

FIXTURES = Path(__file__).parent.parent / "fixtures" / "slack"


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_requests_are_signed_as_slack_signs_them() -> None:
    vector = _fixture("signing_test_vector.json")
    assert sign(vector["signing_secret"], vector["timestamp"], vector["body"]) == vector["expected_signature"]
    headers = signed_headers("s3cret", "a=1", payloads.FORM)
    verifier = SignatureVerifier("s3cret")
    assert verifier.is_valid_request("a=1", headers)
    assert not verifier.is_valid_request("a=2", headers)


def test_requests_carry_every_field_slack_sends() -> None:
    """Field for field against Bolt's own test payloads (enterprise-only fields aside)."""
    enterprise = {"enterprise_id", "enterprise_name", "enterprise"}
    command = dict(
        parse_qsl(
            payloads.slash_command(
                "/pass", "help", user=ALICE, channel=CHANNEL_ID, response_url="http://x/r", trigger_id="1.2"
            )
        )
    )
    expected = dict(parse_qsl((FIXTURES / "slash_command_body.x-www-form-urlencoded.txt").read_text().strip()))
    assert set(expected) - enterprise <= set(command)

    message = Message(ts="1.000001", channel=CHANNEL_ID, user="U0PASSBOT", text="t", blocks=[]).as_slack()
    click = payloads.block_actions(
        user=BOB,
        channel=CHANNEL_ID,
        message=message,
        ephemeral=False,
        action={"type": "button", "action_id": "a", "value": "v", "text": {}},
        block_id="b",
        trigger_id="1.2",
        response_url="http://x/r",
    )
    body = json.loads(dict(parse_qsl(click))["payload"])
    bolt = _fixture("block_actions_respond__block_actions_1.json")
    assert set(bolt) - enterprise <= set(body)
    assert set(bolt["actions"][0]) <= set(body["actions"][0])
    assert set(bolt["container"]) <= set(body["container"])

    view = {"type": "modal", "callback_id": "c", "private_metadata": "m", "title": {}, "blocks": []}
    submitted = json.loads(
        dict(parse_qsl(payloads.view_submission(user=BOB, view=view, values={}, trigger_id="1.2")))["payload"]
    )
    bolt = _fixture("view_submission__body.json")
    assert set(bolt) - enterprise <= set(submitted)
    assert submitted["view"]["state"] == {"values": {}}


@pytest.fixture
def bot_client(page: Page) -> AsyncWebClient:
    """PASS's own kind of client, holding the dev bot token."""
    token = page.stack.container.settings.slack_bot_token
    assert token is not None
    return AsyncWebClient(token=token.get_secret_value(), base_url=page.stack.container.settings.slack_api_url)


async def test_a_message_that_breaks_a_slack_limit_is_shown_with_the_limit_it_breaks(
    page: Page, bot_client: AsyncWebClient
) -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "x" * 200}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "fine"}},
    ]
    await bot_client.chat_postMessage(channel=CHANNEL_ID, text="too long a header", blocks=blocks)
    state = await page.until(lambda s: bool(s["messages"]), "the message")
    assert state["messages"][0]["violations"] == ["blocks[0].text: text length is 200, limit 150"]
    assert state["violations_total"] == 1


async def test_the_web_api_answers_like_slack_and_records_every_call(page: Page, bot_client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as unknown_channel:
        await bot_client.chat_postMessage(channel="C0NOWHERE", text="hi")
    assert unknown_channel.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as stale:
        await bot_client.chat_update(channel=CHANNEL_ID, ts="1.000001", text="hi")
    assert stale.value.response["error"] == "message_not_found"
    with pytest.raises(SlackApiError) as made_up:
        await bot_client.views_open(trigger_id="made.up", view={"type": "modal", "title": {}, "blocks": []})
    assert made_up.value.response["error"] == "invalid_trigger_id"
    with pytest.raises(SlackApiError) as unknown:
        await bot_client.api_call("reactions.add", json={"channel": CHANNEL_ID, "name": "eyes"})
    assert unknown.value.response["error"] == "unknown_method"
    intruder = AsyncWebClient(token="xoxb-not-the-dev-token", base_url=bot_client.base_url)
    with pytest.raises(SlackApiError) as forged:
        await intruder.chat_postMessage(channel=CHANNEL_ID, text="hi")
    assert forged.value.response["error"] == "invalid_auth"

    state = await page.state()
    recorded = [(c["method"], c["error"]) for c in state["calls"]]
    assert recorded == [
        ("chat.postMessage", "channel_not_found"),
        ("chat.update", "message_not_found"),
        ("views.open", "invalid_trigger_id"),
        ("reactions.add", "unknown_method"),
        ("chat.postMessage", "invalid_auth"),
    ]
    assert not state["messages"]


async def test_the_page_refuses_requests_that_a_foreign_site_could_forge(page: Page) -> None:
    async with page.http.post(f"{page.url}dev/send", data=f"user={ALICE.id}&text=/pass help") as form:
        assert form.status == 415
    status, _ = await page.act("send", "U0STRANGER", text="/pass help")
    assert status == 400
    assert not ephemerals(await page.state())


async def test_the_page_and_its_files_are_served(page: Page) -> None:
    async with page.http.get(page.url) as index:
        html = await index.text()
    assert index.status == 200 and '<script src="/static/app.js">' in html
    for name in ("app.js", "style.css"):
        async with page.http.get(f"{page.url}static/{name}") as asset:
            assert asset.status == 200 and len(await asset.read()) > 1000
    async with page.http.get(f"{page.url}static/../runner.py") as escape:
        assert escape.status == 404


def test_every_emoji_pass_writes_is_drawn_by_the_dev_page() -> None:
    """A shortcode the page does not know shows as `:name:` text, unlike in Slack."""
    written: set[str] = set()
    for source in (REPO_ROOT / "bot").rglob("*.py"):
        written |= set(re.findall(r"(?:^|[\"' (]):([a-z][a-z0-9_+-]*):(?=[ \"'])", source.read_text()))
    script = (REPO_ROOT / "bot" / "entrypoints" / "dev" / "static" / "app.js").read_text()
    known = set(re.findall(r"\b([a-z][a-z0-9_+-]*): \"", script.split("const EMOJI = {")[1].split("};")[0]))
    assert written and not written - known, sorted(written - known)
