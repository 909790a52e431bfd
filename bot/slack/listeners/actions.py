"""Card buttons: Approve (the stop-line), Approve and update, Choose items…, Reject…"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.domain.models import OnEarlierSync
from bot.slack.actions import ActionId, ButtonValue
from bot.slack.flows import SlackFlows
from bot.slack.listeners.replies import ephemeral

ButtonListener = Callable[[AsyncAck, dict[str, Any], dict[str, Any]], Awaitable[None]]


def _channel(body: dict[str, Any]) -> str | None:
    return (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")


def user_team(body: dict[str, Any]) -> str | None:
    """The clicker's own Slack team. Not `team.id`: in a shared channel that can be the host's."""
    team = (body.get("user") or {}).get("team_id")
    return str(team) if team else None


def _approve(flows: SlackFlows, on_earlier: OnEarlierSync) -> ButtonListener:
    async def approve(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        value = ButtonValue.decode(action.get("value"))
        await ack()
        user = body["user"]["id"]
        reply = ephemeral(flows.client, _channel(body), user)
        await flows.approve(value, user, reply, user_team=user_team(body), on_earlier=on_earlier)

    return approve


def _open_modal(flows: SlackFlows, kind: Literal["reject", "select"]) -> ButtonListener:
    async def open_modal(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        value = ButtonValue.decode(action.get("value"))
        await ack()
        reply = ephemeral(flows.client, _channel(body), body["user"]["id"])
        await flows.open_modal(value, trigger_id=body["trigger_id"], channel=_channel(body), kind=kind, reply=reply)

    return open_modal


def register(app: AsyncApp, flows: SlackFlows) -> None:
    app.action(ActionId.APPROVE.value)(_approve(flows, "skip"))
    app.action(ActionId.APPROVE_UPDATE.value)(_approve(flows, "update"))
    app.action(ActionId.REJECT.value)(_open_modal(flows, "reject"))
    app.action(ActionId.CHOOSE_ITEMS.value)(_open_modal(flows, "select"))
