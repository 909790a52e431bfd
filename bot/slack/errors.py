"""The one global error handler of the Slack app.

A `BadInput` is the person's to fix: they get its message. Redis being unreachable is said as such
(nothing was approved or started: PASS fails closed). Anything else is logged with its
traceback under a short reference, and the person is told, ephemerally, what failed, the run id
if there is one, and that reference (nothing secret: no exception text goes to Slack).
"""

from __future__ import annotations

import uuid
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import BadInput, StoreUnavailable
from bot.logging import get_logger
from bot.slack.actions import ButtonValue, ModalContext
from bot.slack.answer_blocks import error_message
from bot.slack.block_kit import notice
from bot.slack.mrkdwn import esc
from bot.slack.notifier import SLACK_ERRORS

log = get_logger(__name__)

# The store raises StoreUnavailable; the queue and the middleware meet Redis's own errors.
STORE_DOWN = (StoreUnavailable, RedisConnectionError, RedisTimeoutError)


def _run_id(body: dict[str, Any]) -> str | None:
    for action in body.get("actions") or []:
        try:
            return ButtonValue.decode(action.get("value")).run_id
        except BadInput:
            continue
    view = body.get("view") or {}
    if view.get("private_metadata"):
        try:
            return ModalContext.decode(view["private_metadata"]).run_id
        except BadInput:
            return None
    return None


def _where(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """(channel, user) to answer in."""
    user = body.get("user_id") or (body.get("user") or {}).get("id") or (body.get("event") or {}).get("user")
    channel = (
        body.get("channel_id")
        or (body.get("channel") or {}).get("id")
        or (body.get("container") or {}).get("channel_id")
        or (body.get("event") or {}).get("channel")
    )
    if channel is None and body.get("view"):
        try:
            channel = ModalContext.decode(body["view"].get("private_metadata")).channel
        except BadInput:
            channel = None
    return channel, user


def _what(body: dict[str, Any]) -> str:
    if body.get("command"):
        return f"running `{body['command']} {str(body.get('text', '')).split(' ')[0]}`"
    kind = body.get("type")
    return {
        "block_actions": "handling that click",
        "view_submission": "saving that form",
        "message_action": "planning that message",
        "event_callback": "answering that mention",
    }.get(str(kind), "handling that request")


async def handle_error(error: Exception, body: dict[str, Any], client: AsyncWebClient) -> None:
    channel, user = _where(body)
    run_id = _run_id(body)
    if isinstance(error, BadInput):
        answer = notice(f":warning: {esc(str(error))}")
    elif isinstance(error, STORE_DOWN):
        # Fail closed: whatever the person asked for (a plan, an approval) did not happen.
        log.error("slack.store_unavailable", run_id=run_id, exc_info=error)
        answer = notice(
            ":warning: PASS cannot reach its store (Redis) right now, so nothing was approved or started. "
            "Try again in a minute; PASS reconnects by itself."
        )
    else:
        reference = uuid.uuid4().hex[:10]
        log.error("slack.listener_failed", reference=reference, run_id=run_id, what=_what(body), exc_info=error)
        answer = error_message(_what(body), run_id, reference)
    if channel is None or user is None:
        return
    try:
        await client.chat_postEphemeral(channel=channel, user=user, **answer)
    except SLACK_ERRORS:
        log.exception("slack.error_reply_failed", run_id=run_id)
