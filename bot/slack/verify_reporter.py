"""Tells the person who ran `/pass verify` what the sandboxed checks found (ephemeral)."""

from __future__ import annotations

from typing import Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logging import get_logger
from bot.slack.answer_blocks import verification_message
from bot.slack.block_kit import Message, notice
from bot.slack.mrkdwn import esc
from bot.verify.repo import RepoVerification

log = get_logger(__name__)


class VerifyReporter(Protocol):
    async def report(self, channel: str, user: str, repo: str, result: RepoVerification) -> None: ...

    async def failed(self, channel: str, user: str, repo: str, reason: str) -> None: ...


class SlackVerifyReporter:
    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def report(self, channel: str, user: str, repo: str, result: RepoVerification) -> None:
        await self._post(channel, user, verification_message(repo, result))

    async def failed(self, channel: str, user: str, repo: str, reason: str) -> None:
        await self._post(channel, user, notice(f":warning: `{esc(repo)}` was not verified: {esc(reason)}"))

    async def _post(self, channel: str, user: str, message: Message) -> None:
        try:
            await self._client.chat_postEphemeral(channel=channel, user=user, **message)
        except SlackApiError as exc:
            # The person may have left the channel; the result is still in the audit log.
            log.warning("slack.verify_report_failed", channel=channel, error=exc.response.get("error"))
