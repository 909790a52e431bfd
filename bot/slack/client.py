"""The Slack Web API client PASS uses everywhere (listeners, notifier, worker)."""

from __future__ import annotations

import random

from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.jitter import Jitter
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings


def build_web_client(settings: Settings) -> AsyncWebClient | None:
    """None when SLACK_BOT_TOKEN is not set (Slack is then off; webhooks and the CLI still work)."""
    if settings.slack_bot_token is None or not settings.slack_bot_token.get_secret_value():
        return None
    return web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)


def web_client(token: str, base_url: str, *, server_error_backoff_s: float = 0.5) -> AsyncWebClient:
    client = AsyncWebClient(token=token, base_url=_with_slash(base_url))
    # slack_sdk retries connection errors by default but not HTTP 429 (Slack sends Retry-After)
    # nor 500/503: those are retried twice here, waiting backoff, 2 x backoff (plus up to 1 s of
    # jitter each). A longer outage is the notifier's catch-up scan's to wait out.
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))
    backoff = BackoffRetryIntervalCalculator(
        backoff_factor=server_error_backoff_s, jitter=_Jitter(server_error_backoff_s)
    )
    client.retry_handlers.append(AsyncServerErrorRetryHandler(max_retry_count=2, interval_calculator=backoff))
    return client


class _Jitter(Jitter):
    """Up to 2 x backoff of random jitter (slack_sdk's own adds up to a whole second)."""

    def __init__(self, backoff_s: float) -> None:
        self._most = 2 * backoff_s

    def recalculate(self, duration: float) -> float:
        return duration + random.uniform(0, self._most)  # noqa: S311 - spreading retries, not a secret


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"
