"""The request bodies Slack sends an app, built the way Slack builds them (pure).

Shapes follow Slack's own (and Bolt's test payloads): a slash command is a form; an interaction
(button click, modal submission) is a form with one `payload` field holding JSON; an event is a
JSON `event_callback`.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from bot.entrypoints.dev.identities import APP_ID, BOT_ID, BOT_USER, CHANNEL_NAME, TEAM_DOMAIN, TEAM_ID, DevUser

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
# Slack still sends the deprecated verification token; Bolt ignores it when a signing secret is set.
VERIFICATION_TOKEN = "dev-verification-token"  # noqa: S105 - a fixed placeholder, not a credential


def _team() -> dict[str, str]:
    return {"id": TEAM_ID, "domain": TEAM_DOMAIN}


def _user(user: DevUser) -> dict[str, str]:
    return {"id": user.id, "username": user.name, "name": user.name, "team_id": TEAM_ID}


def slash_command(command: str, text: str, *, user: DevUser, channel: str, response_url: str, trigger_id: str) -> str:
    return urlencode(
        {
            "token": VERIFICATION_TOKEN,
            "team_id": TEAM_ID,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel,
            "channel_name": CHANNEL_NAME,
            "user_id": user.id,
            "user_name": user.name,
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    )


def interaction(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))})


def block_actions(
    *,
    user: DevUser,
    channel: str,
    message: dict[str, Any],
    ephemeral: bool,
    action: dict[str, Any],
    block_id: str,
    trigger_id: str,
    response_url: str,
) -> str:
    """A click on an interactive element of a message. `message` is the message as Slack shows it
    (ts, text, blocks …); `action` is the element clicked, as it was rendered."""
    clicked = {
        "action_id": action.get("action_id"),
        "block_id": block_id,
        "type": action.get("type"),
        "action_ts": f"{time.time():.6f}",
    }
    for key in ("text", "value", "style", "url"):
        if key in action:
            clicked[key] = action[key]
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message["ts"],
        "channel_id": channel,
        "is_ephemeral": ephemeral,
    }
    if message.get("thread_ts"):
        container["thread_ts"] = message["thread_ts"]
    body: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": trigger_id,
        "team": _team(),
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": CHANNEL_NAME},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [clicked],
    }
    # Slack leaves the message out of clicks on ephemeral messages.
    if not ephemeral:
        body["message"] = message
    return interaction(body)


def view_block_actions(
    *, user: DevUser, view: dict[str, Any], values: dict[str, Any], action: dict[str, Any], trigger_id: str
) -> str:
    """A change to an element of an open modal whose block has `dispatch_action` (a tick, a choice):
    Slack sends the view as it stands, its state included, and the element's new value."""
    return interaction(
        {
            "type": "block_actions",
            "user": _user(user),
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "container": {"type": "view", "view_id": view.get("id")},
            "trigger_id": trigger_id,
            "team": _team(),
            "enterprise": None,
            "is_enterprise_install": False,
            "view": {**view, "state": {"values": values}},
            "actions": [{**action, "action_ts": f"{time.time():.6f}"}],
        }
    )


def message_shortcut(
    *,
    user: DevUser,
    channel: str,
    message: dict[str, Any],
    callback_id: str,
    trigger_id: str,
    response_url: str,
) -> str:
    """A message shortcut chosen from a message's "More actions" menu."""
    return interaction(
        {
            "type": "message_action",
            "token": VERIFICATION_TOKEN,
            "action_ts": f"{time.time():.6f}",
            "team": _team(),
            "user": _user(user),
            "channel": {"id": channel, "name": CHANNEL_NAME},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": trigger_id,
            "response_url": response_url,
            "message_ts": message["ts"],
            "message": message,
        }
    )


def view_submission(*, user: DevUser, view: dict[str, Any], values: dict[str, Any], trigger_id: str) -> str:
    submitted = {**view, "state": {"values": values}}
    return interaction(
        {
            "type": "view_submission",
            "team": _team(),
            "user": _user(user),
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "trigger_id": trigger_id,
            "view": submitted,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
    )


def view_closed(*, user: DevUser, view: dict[str, Any]) -> str:
    return interaction(
        {
            "type": "view_closed",
            "team": _team(),
            "user": _user(user),
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "view": view,
            "is_cleared": False,
            "is_enterprise_install": False,
        }
    )


def app_mention(*, user: DevUser, text: str, channel: str, ts: str, thread_ts: str | None, event_id: str) -> str:
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": user.id,
        "text": text,
        "ts": ts,
        "team": TEAM_ID,
        "channel": channel,
        "event_ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return json.dumps(
        {
            "token": VERIFICATION_TOKEN,
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(float(ts)),
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER, "is_bot": True}],
            "is_ext_shared_channel": False,
        }
    )


def bot_profile() -> dict[str, str]:
    return {"bot_id": BOT_ID, "user": BOT_USER, "app_id": APP_ID}
