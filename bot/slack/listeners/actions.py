"""Card buttons: Approve (the stop-line), Choose items…, Reject…"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.slack.actions import ActionId, ButtonValue
from bot.slack.flows import SlackFlows
from bot.slack.listeners.replies import ephemeral


def _channel(body: dict[str, Any]) -> str | None:
    return (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")


def user_team(body: dict[str, Any]) -> str | None:
    """The clicker's own Slack team. Not `team.id`: in a shared channel that can be the host's."""
    team = (body.get("user") or {}).get("team_id")
    return str(team) if team else None


def register(app: AsyncApp, flows: SlackFlows) -> None:
    @app.action(ActionId.APPROVE.value)
    async def approve(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        value = ButtonValue.decode(action.get("value"))
        await ack()
        user = body["user"]["id"]
        await flows.approve(value, user, ephemeral(flows.client, _channel(body), user), user_team=user_team(body))

    @app.action(ActionId.APPROVE_UPDATE.value)
    async def approve_and_update(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        value = ButtonValue.decode(action.get("value"))
        await ack()
        user = body["user"]["id"]
        reply = ephemeral(flows.client, _channel(body), user)
        await flows.approve(value, user, reply, user_team=user_team(body), on_earlier="update")

    @app.action(ActionId.REJECT.value)
    async def reject(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        value = ButtonValue.decode(action.get("value"))
        await ack()
        user = body["user"]["id"]
        reply = ephemeral(flows.client, _channel(body), user)
        await flows.open_modal(value, trigger_id=body["trigger_id"], channel=_channel(body), kind="reject", reply=reply)

    @app.action(ActionId.CHOOSE_ITEMS.value)
    async def choose_items(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        value = ButtonValue.decode(action.get("value"))
        await ack()
        user = body["user"]["id"]
        reply = ephemeral(flows.client, _channel(body), user)
        await flows.open_modal(value, trigger_id=body["trigger_id"], channel=_channel(body), kind="select", reply=reply)
