"""The daily spend ledger in Redis: one float per workspace per UTC day.

INCRBYFLOAT is atomic on the server, so reservations from many workers on many hosts add up
exactly; the key expires a few days after its day so the ledger never grows without bound.
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.errors import StoreUnavailable

KEY_PREFIX = "pass:spend"
KEEP_SECONDS = 3 * 24 * 3600


def spend_key(workspace: str, day: str) -> str:
    return f"{KEY_PREFIX}:{workspace}:{day}"


class RedisSpendLedger:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def add(self, workspace: str, day: str, usd: float) -> float:
        key = spend_key(workspace, day)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incrbyfloat(key, usd)
                pipe.expire(key, KEEP_SECONDS)
                total, _ = await pipe.execute()
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            # Fail closed: without the ledger no one can tell whether the daily cap allows a call.
            raise StoreUnavailable(f"spend ledger unavailable: {exc.__class__.__name__}") from exc
        return float(total)

    async def get(self, workspace: str, day: str) -> float:
        try:
            value = await self._redis.get(spend_key(workspace, day))
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(f"spend ledger unavailable: {exc.__class__.__name__}") from exc
        return float(value) if value is not None else 0.0
