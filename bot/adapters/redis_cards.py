"""Where each run's Slack card lives (channel, ts, thread), kept in Redis beside the run.

The `CardStore` port (bot/slack/cards.py) on Redis: the card reference, the once-per-run thread
posts, the pause after Slack refused a card, and the short per-run lock that serialises updates.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from redis.exceptions import LockError

from bot.adapters.redis_store import PREFIX
from bot.slack.cards import CardRef

CARD_TTL_S = 90 * 24 * 3600
LOCK_S = 120
# After Slack refuses a run's card, the catch-up scan leaves it this long before trying again.
REFUSED_PAUSE_S = 5 * 60


def _card_key(run_id: str) -> str:
    return f"{PREFIX}:slack:card:{run_id}"


def _done_key(run_id: str, what: str) -> str:
    return f"{PREFIX}:slack:once:{run_id}:{what}"


def _refused_key(run_id: str) -> str:
    return f"{PREFIX}:slack:refused:{run_id}"


class RedisCardStore:
    def __init__(self, client: aioredis.Redis) -> None:
        self._r = client

    async def get(self, run_id: str) -> CardRef | None:
        raw = await self._r.get(_card_key(run_id))
        return CardRef.model_validate_json(raw) if raw else None

    async def save(self, run_id: str, ref: CardRef) -> None:
        await self._r.set(_card_key(run_id), ref.model_dump_json(), ex=CARD_TTL_S)

    async def done(self, run_id: str, what: str) -> bool:
        return bool(await self._r.exists(_done_key(run_id, what)))

    async def mark_done(self, run_id: str, what: str) -> None:
        await self._r.set(_done_key(run_id, what), "1", ex=CARD_TTL_S)

    async def note_refused(self, run_id: str) -> None:
        await self._r.set(_refused_key(run_id), "1", ex=REFUSED_PAUSE_S)

    async def refused_recently(self, run_id: str) -> bool:
        return bool(await self._r.exists(_refused_key(run_id)))

    @asynccontextmanager
    async def lock(self, run_id: str, *, wait: bool = True) -> AsyncIterator[bool]:
        # timeout: a crashed holder frees the card after LOCK_S, which is longer than a redraw
        # with Slack's own retries (a card, its thread pages and the plan file) normally takes.
        lock = self._r.lock(f"{PREFIX}:slack:lock:{run_id}", timeout=LOCK_S, blocking_timeout=20)
        if not await lock.acquire(blocking=wait):
            if wait:
                raise LockError(f"the card of run {run_id} stayed locked by another process")  # type: ignore[no-untyped-call]
            yield False
            return
        try:
            yield True
        finally:
            await lock.release()
