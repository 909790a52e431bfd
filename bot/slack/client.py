"""The Slack Web API client PASS uses everywhere (listeners, notifier, worker)."""

from __future__ import annotations

from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings


def build_web_client(settings: Settings) -> AsyncWebClient | None:
    """None when SLACK_BOT_TOKEN is not set (Slack is then off; webhooks and the CLI still work)."""
    if settings.slack_bot_token is None or not settings.slack_bot_token.get_secret_value():
        return None
    return web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)


def web_client(token: str, base_url: str) -> AsyncWebClient:
    client = AsyncWebClient(token=token, base_url=_with_slash(base_url))
    # slack_sdk retries connection errors by default but not HTTP 429; Slack sends Retry-After.
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))
    return client


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"
