"""Global Bolt middleware: one delivery of each Slack request, however often Slack sends it.

Slack re-sends an event it thinks was not acknowledged (`X-Slack-Retry-Num`), and Socket Mode can
redeliver after a reconnect. Bolt does not de-duplicate. Each request has an id that a retry
keeps (an event's `event_id`, an interaction's `trigger_id`); the first delivery claims it in
Redis (SET NX, beside the store's other dedupe keys) and later ones are answered 200 and dropped.
Signatures are checked by Bolt before this runs, so a forged request cannot claim an id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.adapters.redis_store import dedupe_key
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


def drop_redeliveries(client: aioredis.Redis) -> Middleware:
    async def middleware(
        req: AsyncBoltRequest,
        body: dict[str, Any],
        next: Callable[[], Awaitable[None]],  # Bolt passes it by this name
    ) -> BoltResponse | None:
        key = delivery_id(body)
        if key is not None:
            first = await client.set(dedupe_key(key), "1", nx=True, ex=DELIVERY_TTL_S)
            if not first:
                retries = req.headers.get("x-slack-retry-num") or []
                retry = retries[0] if retries else None
                log.info("slack.redelivery_dropped", delivery=key, retry_num=retry)
                return BoltResponse(status=200, body="")
        await next()
        return None

    return middleware
