"""Which digest slots were claimed and sent, in Redis: the exactly-once part of scheduled digests.

A slot is claimed with SET NX (one key per channel and slot), so however many workers tick at
once, one wins. The last slot sent per channel only ever moves forward (a Lua max), so a slow
worker finishing an old slot cannot make a newer one look unsent.
"""

from __future__ import annotations

from datetime import UTC, datetime

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.errors import StoreUnavailable

PREFIX = "pass:digest"

# KEYS[1] = last-sent hash; ARGV = slot epoch, period end epoch. Sets both only if the slot is newer.
_ADVANCE = """
local current = redis.call('HGET', KEYS[1], 'slot')
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'slot', ARGV[1], 'until', ARGV[2])
return 1
"""


def claim_key(channel: str, slot: datetime) -> str:
    return f"{PREFIX}:claim:{channel}:{int(slot.timestamp())}"


def last_key(channel: str) -> str:
    return f"{PREFIX}:last:{channel}"


class RedisDigestLedger:
    def __init__(self, client: aioredis.Redis, *, lease_s: int = 600, claim_ttl_s: int = 45 * 24 * 3600) -> None:
        self._r = client
        # A claim is a lease until the digest is marked sent: a worker killed mid-send loses it
        # after `lease_s` and another worker sends the slot (late, saying so) instead of nobody.
        # The lease outlasts a slow post (30 s timeout plus rate-limit retries) by far.
        self._lease = lease_s
        # Once sent, the claim is kept this long; the last-sent mark also stops a resend.
        self._ttl = claim_ttl_s

    async def claim(self, channel: str, slot: datetime, owner: str) -> bool:
        try:
            return bool(await self._r.set(claim_key(channel, slot), owner, nx=True, ex=self._lease))
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(f"Redis did not answer: {type(exc).__name__}") from exc

    async def release(self, channel: str, slot: datetime, owner: str) -> None:
        """Give a claim back after a send that certainly failed, so the next tick can retry."""
        key = claim_key(channel, slot)
        if await self._r.get(key) == owner:
            await self._r.delete(key)

    async def mark_sent(self, channel: str, slot: datetime, until: datetime) -> None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.eval(_ADVANCE, 1, last_key(channel), int(slot.timestamp()), until.timestamp())
            pipe.expire(claim_key(channel, slot), self._ttl)
            await pipe.execute()

    async def last_sent(self, channel: str) -> tuple[datetime, datetime] | None:
        """(slot, end of the period it covered) of the newest digest sent to `channel`."""
        try:
            raw = await self._r.hgetall(last_key(channel))  # type: ignore[misc]
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(f"Redis did not answer: {type(exc).__name__}") from exc
        if not raw or "slot" not in raw:
            return None
        slot = datetime.fromtimestamp(float(raw["slot"]), tz=UTC)
        until = datetime.fromtimestamp(float(raw.get("until", raw["slot"])), tz=UTC)
        return slot, until
