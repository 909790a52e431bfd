"""`@PASS plan …` (and help, status, stats) in a channel or thread."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.slack.commands import parse
from bot.slack.flows import CommandRequest, Requester, SlackFlows
from bot.slack.listeners.replies import ephemeral, in_thread


def register(app: AsyncApp, flows: SlackFlows) -> None:
    # Bolt acknowledges events itself, before the listener runs.
    @app.event("app_mention")
    async def mentioned(body: dict[str, Any], event: dict[str, Any]) -> None:
        channel, user = event["channel"], event["user"]
        thread = event.get("thread_ts") or event["ts"]
        who = Requester(user=user, channel=channel, team=body.get("team_id") or "default", thread_ts=thread)
        event_id = body["event_id"]
        request = CommandRequest(
            who,
            event_id,
            dedupe=f"slack:event:{event_id}",
            # Answers go in the thread, for everyone there; a plan's problems only to the asker.
            answer=in_thread(flows.client, channel, thread),
            private=ephemeral(flows.client, channel, user, thread),
        )
        await flows.run_command(parse(event.get("text", "")), request)
