"""How a listener answers one person (ephemeral), as a `Reply` for the flows."""

from __future__ import annotations

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.block_kit import Message
from bot.slack.flows import Reply


def via_response_url(respond: AsyncRespond) -> Reply:
    """Slash commands and shortcuts: the response_url works even where PASS is not a member."""

    async def reply(message: Message) -> None:
        await respond(text=message["text"], blocks=message["blocks"], response_type="ephemeral")

    return reply


def ephemeral(client: AsyncWebClient, channel: str | None, user: str, thread_ts: str | None = None) -> Reply:
    async def reply(message: Message) -> None:
        if channel is None:
            return
        await client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, **message)

    return reply


def in_thread(client: AsyncWebClient, channel: str, thread_ts: str) -> Reply:
    """A visible reply in the thread (answers to an @mention)."""

    async def reply(message: Message) -> None:
        await client.chat_postMessage(channel=channel, thread_ts=thread_ts, **message)

    return reply
