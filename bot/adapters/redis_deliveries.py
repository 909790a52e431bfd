"""The first-delivery claims of Slack requests (bot/slack/middleware.py's `DeliveryClaims`) in Redis:
SET NX on a key beside the store's other dedupe keys."""

from __future__ import annotations

import redis.asyncio as aioredis

from bot.adapters.redis_store import dedupe_key


class RedisDeliveryClaims:
    def __init__(self, client: aioredis.Redis) -> None:
        self._r = client

    async def claim(self, delivery: str, ttl_s: int) -> bool:
        return bool(await self._r.set(dedupe_key(delivery), "1", nx=True, ex=ttl_s))
