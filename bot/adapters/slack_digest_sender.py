"""Posting a digest with slack_sdk's AsyncWebClient (chat.postMessage), 429s retried by the SDK.

The sender renders it: the digest service hands over the `Digest`, never Block Kit."""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.digest import Digest
from bot.errors import ConfigError
from bot.services.digest import DigestNotSent
from bot.settings import Settings
from bot.slack.digest_blocks import digest_blocks, digest_text


class SlackDigestSender:
    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> SlackDigestSender:
        if settings.slack_bot_token is None or not settings.slack_bot_token.get_secret_value():
            raise ConfigError("SLACK_BOT_TOKEN is not set: digests cannot be posted (use --print to see one)")
        client = AsyncWebClient(
            token=settings.slack_bot_token.get_secret_value(),
            base_url=settings.slack_api_url,
            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
        )
        return cls(client)

    async def post(self, digest: Digest) -> None:
        channel = digest.channel
        blocks, text = digest_blocks(digest), digest_text(digest)
        try:
            await self._client.chat_postMessage(channel=channel, blocks=blocks, text=text, unfurl_links=False)
        except SlackApiError as exc:
            error = exc.response.get("error", "unknown_error") if exc.response is not None else "unknown_error"
            hint = " (invite the bot to the channel: /invite @PASS)" if error == "not_in_channel" else ""
            raise DigestNotSent(f"Slack refused the digest for {channel}: {error}{hint}") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DigestNotSent(f"Slack did not answer for {channel}: {type(exc).__name__}") from None
