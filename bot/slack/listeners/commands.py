"""`/pass …`"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.slack.actions import COMMAND
from bot.slack.answer_blocks import help_message
from bot.slack.commands import HelpCommand, parse
from bot.slack.flows import CommandRequest, Requester, SlackFlows
from bot.slack.listeners.replies import via_response_url


def register(app: AsyncApp, flows: SlackFlows) -> None:
    @app.command(COMMAND)
    async def pass_command(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        parsed = parse(command.get("text", ""))
        if isinstance(parsed, HelpCommand):
            # Help is pure: it goes back in the ack itself.
            await ack(**help_message(parsed.reason))
            return
        await ack()
        reply = via_response_url(respond)
        who = Requester(
            user=command["user_id"], channel=command["channel_id"], team=command.get("team_id") or "default"
        )
        trigger = command["trigger_id"]
        request = CommandRequest(who, trigger, dedupe=f"slack:command:{trigger}", answer=reply, private=reply)
        await flows.run_command(parsed, request)
