"""Global Bolt middleware: one delivery of each Slack request, however often Slack sends it.

Slack re-sends an event it thinks was not acknowledged (`X-Slack-Retry-Num`), and Socket Mode can
redeliver after a reconnect. Bolt does not de-duplicate. Each request has an id that a retry
keeps (an event's `event_id`, an interaction's `trigger_id`); the first delivery claims it
(`DeliveryClaims`: in Redis, bot/adapters/redis_deliveries.py) and later ones are answered 200
and dropped.
Signatures are checked by Bolt before this runs, so a forged request cannot claim an id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.logging import get_logger

log = get_logger(__name__)

# Slack retries for about five minutes; an hour is a wide margin.
DELIVERY_TTL_S = 3600

Middleware = Callable[..., Awaitable[BoltResponse | None]]


def delivery_id(body: dict[str, Any]) -> str | None:
    if body.get("event_id"):
        return f"slack:event:{body['event_id']}"
    if body.get("trigger_id"):
        return f"slack:trigger:{body['trigger_id']}"
    return None


class DeliveryClaims(Protocol):
    async def claim(self, delivery: str, ttl_s: int) -> bool:
        """True for the first claim of `delivery` within `ttl_s`, False for every later one."""
        ...


def drop_redeliveries(claims: DeliveryClaims) -> Middleware:
    async def middleware(
        req: AsyncBoltRequest,
        body: dict[str, Any],
        next: Callable[[], Awaitable[None]],  # Bolt passes it by this name
    ) -> BoltResponse | None:
        key = delivery_id(body)
        if key is not None and not await claims.claim(key, DELIVERY_TTL_S):
            retries = req.headers.get("x-slack-retry-num") or []
            retry = retries[0] if retries else None
            log.info("slack.redelivery_dropped", delivery=key, retry_num=retry)
            return BoltResponse(status=200, body="")
        await next()
        return None

    return middleware
