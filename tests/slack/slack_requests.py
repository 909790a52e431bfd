"""Requests to the bot, built from Bolt's own test payloads and signed exactly as Slack signs them
(by `bot.entrypoints.dev.signing`, the signer `passbot dev` uses)."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from bot.entrypoints.dev import signing

FIXTURES = Path(__file__).parent.parent / "fixtures" / "slack"
SIGNING_SECRET = "test-signing-secret-0123456789abcdef"

_ids = itertools.count(1)


def signed_headers(
    body: str, content_type: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """Signed by the dev stand-in's signer (Slack's v0 scheme, see SLACK_FACTS.md)."""
    return signing.signed_headers(secret, body, content_type, now=timestamp)


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def unique(prefix: str) -> str:
    return f"{prefix}{next(_ids)}.{int(time.time() * 1000)}"


def slash_command(text: str, *, user: str, channel: str, response_url: str, trigger_id: str | None = None) -> str:
    fields = dict(parse_qsl((FIXTURES / "slash_command_body.x-www-form-urlencoded.txt").read_text().strip()))
    fields.update(
        command="/pass",
        text=text,
        user_id=user,
        user_name=user.lower(),
        channel_id=channel,
        team_id="T0PASS",
        response_url=response_url,
        trigger_id=trigger_id or unique("trig."),
    )
    return urlencode(fields)


def _interactive(payload: dict[str, Any]) -> str:
    return f"payload={quote(json.dumps(payload))}"


def block_action(
    action_id: str, value: str, *, user: str, channel: str, message_ts: str, response_url: str, team: str = "T0PASS"
) -> str:
    body = _load("block_actions_respond__block_actions_1.json")
    # In a shared (Slack Connect) channel the clicker's own team is `user.team_id`; `team` is the host's.
    body["user"] = {"id": user, "username": user.lower(), "team_id": team}
    body["team"] = {"id": "T0PASS"}
    body["channel"] = {"id": channel}
    body["container"] = {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False}
    body["message"]["ts"] = message_ts
    body["trigger_id"] = unique("trig.")
    body["response_url"] = response_url
    body["actions"] = [
        {
            "action_id": action_id,
            "block_id": "decide",
            "text": {"type": "plain_text", "text": "button"},
            "value": value,
            "type": "button",
            "action_ts": unique(""),
        }
    ]
    return _interactive(body)


def view_submission(
    callback_id: str, private_metadata: str, values: dict[str, Any], *, user: str, team: str = "T0PASS"
) -> str:
    body = _load("view_submission__body.json")
    body["user"] = {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team}
    body["team"] = {"id": "T0PASS", "domain": "pass-test"}
    body["trigger_id"] = unique("trig.")
    body["view"]["callback_id"] = callback_id
    body["view"]["private_metadata"] = private_metadata
    body["view"]["state"] = {"values": values}
    return _interactive(body)


def app_mention(text: str, *, user: str, channel: str, ts: str, event_id: str, thread_ts: str | None = None) -> str:
    body = _load("events__app_mention_event_callback.json")
    body["team_id"] = "T0PASS"
    body["event_id"] = event_id
    event = {**body["event"], "text": text, "user": user, "channel": channel, "ts": ts, "event_ts": ts}
    if thread_ts:
        event["thread_ts"] = thread_ts
    body["event"] = event
    body["authorizations"] = [{"team_id": "T0PASS", "user_id": "UPASSBOT", "is_bot": True}]
    return json.dumps(body)


def message_shortcut(callback_id: str, text: str, *, user: str, channel: str, ts: str, response_url: str) -> str:
    body = {
        "type": "message_action",
        "callback_id": callback_id,
        "trigger_id": unique("trig."),
        "response_url": response_url,
        "team": {"id": "T0PASS", "domain": "pass-test"},
        "channel": {"id": channel, "name": "planning"},
        "user": {"id": user, "name": user.lower()},
        "message": {"type": "message", "user": "UAUTHOR", "ts": ts, "text": text},
        "token": "verification_token",
        "action_ts": unique(""),
    }
    return _interactive(body)
