"""The message shortcut "Plan with PASS": the message's text is the PRD."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.slack.actions import ShortcutId
from bot.slack.commands import InlinePrd, PlanCommand
from bot.slack.flows import Requester, SlackFlows
from bot.slack.listeners.replies import via_response_url


def register(app: AsyncApp, flows: SlackFlows) -> None:
    @app.shortcut(ShortcutId.PLAN_WITH_PASS.value)
    async def plan_message(ack: AsyncAck, shortcut: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        message = shortcut.get("message") or {}
        who = Requester(
            user=shortcut["user"]["id"],
            channel=shortcut["channel"]["id"],
            team=(shortcut.get("team") or {}).get("id") or "default",
            thread_ts=message.get("thread_ts") or message.get("ts"),
        )
        command = PlanCommand(source=InlinePrd(text=str(message.get("text") or "")))
        await flows.plan(
            command, who, dedupe=f"slack:shortcut:{shortcut['trigger_id']}", reply=via_response_url(respond)
        )
