"""`@PASS plan …` (and help, status, stats) in a channel or thread."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

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
from bot.slack.listeners.replies import ephemeral, in_thread


def register(app: AsyncApp, flows: SlackFlows) -> None:
    # Bolt acknowledges events itself, before the listener runs.
    @app.event("app_mention")
    async def mentioned(body: dict[str, Any], event: dict[str, Any]) -> None:
        parsed = parse(event.get("text", ""))
        channel, user = event["channel"], event["user"]
        thread = event.get("thread_ts") or event["ts"]
        answer = in_thread(flows.client, channel, thread)
        if isinstance(parsed, HelpCommand):
            await answer(help_message(parsed.reason))
        elif isinstance(parsed, PlanCommand):
            who = Requester(user=user, channel=channel, team=body.get("team_id") or "default", thread_ts=thread)
            reply = ephemeral(flows.client, channel, user, thread)
            await flows.plan(parsed, who, dedupe=f"slack:event:{body['event_id']}", reply=reply)
        elif isinstance(parsed, StatusCommand):
            await flows.status(parsed.run_id, channel, answer)
        elif isinstance(parsed, StatsCommand):
            await flows.stats(parsed.window, answer)
        elif isinstance(parsed, DigestCommand):
            await flows.digest(channel, answer)
        elif isinstance(parsed, VerifyCommand):
            who = Requester(user=user, channel=channel, team=body.get("team_id") or "default", thread_ts=thread)
            await flows.verify(parsed.repo, who, body["event_id"], answer)
