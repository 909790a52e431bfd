"""`/pass …`"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.slack.actions import COMMAND
from bot.slack.answer_blocks import help_message
from bot.slack.commands import (
    DigestCommand,
    HelpCommand,
    PlanCommand,
    StatsCommand,
    StatusCommand,
    VerifyCommand,
    parse,
)
from bot.slack.flows import Requester, SlackFlows
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
        if isinstance(parsed, PlanCommand):
            await flows.plan(parsed, who, dedupe=f"slack:command:{command['trigger_id']}", reply=reply)
        elif isinstance(parsed, StatusCommand):
            await flows.status(parsed.run_id, who.channel, reply)
        elif isinstance(parsed, StatsCommand):
            await flows.stats(parsed.window, reply)
        elif isinstance(parsed, DigestCommand):
            await flows.digest(who.channel, reply)
        elif isinstance(parsed, VerifyCommand):
            await flows.verify(parsed.repo, who, command["trigger_id"], reply)
