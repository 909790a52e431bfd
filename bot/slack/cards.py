"""Where each run's card lives in Slack (channel, ts, thread), kept in Redis beside the run.

The web process posts a card and the worker updates it, so the reference is shared state. A short
per-run lock serialises updates (each renders the latest run, so the last writer shows the newest
state), and `done()`/`mark_done()` (under that lock) make each thread post (details, plan file, issue
list) happen once per run, and again only if Slack never got it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict
from redis.exceptions import LockError

from bot.adapters.redis_store import PREFIX

CARD_TTL_S = 90 * 24 * 3600
LOCK_S = 120
# After Slack refuses a run's card, the catch-up scan leaves it this long before trying again.
REFUSED_PAUSE_S = 5 * 60


class CardRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str
    ts: str
    # The thread details go to: the card's own thread, or the thread the request came from.
    thread_ts: str
    # The run version last drawn on the card (skips redundant chat.update calls).
    rendered: str = ""


def _card_key(run_id: str) -> str:
    return f"{PREFIX}:slack:card:{run_id}"


def _done_key(run_id: str, what: str) -> str:
    return f"{PREFIX}:slack:once:{run_id}:{what}"


def _refused_key(run_id: str) -> str:
    return f"{PREFIX}:slack:refused:{run_id}"


class CardStore:
    def __init__(self, client: aioredis.Redis) -> None:
        self._r = client

    async def get(self, run_id: str) -> CardRef | None:
        raw = await self._r.get(_card_key(run_id))
        return CardRef.model_validate_json(raw) if raw else None

    async def save(self, run_id: str, ref: CardRef) -> None:
        await self._r.set(_card_key(run_id), ref.model_dump_json(), ex=CARD_TTL_S)

    async def done(self, run_id: str, what: str) -> bool:
        """Whether `what` (a thread post) was already made for this run."""
        return bool(await self._r.exists(_done_key(run_id, what)))

    async def mark_done(self, run_id: str, what: str) -> None:
        """Record a thread post once Slack has it: one that failed is tried again, never lost."""
        await self._r.set(_done_key(run_id, what), "1", ex=CARD_TTL_S)

    async def note_refused(self, run_id: str) -> None:
        """Slack refused this run's card (PASS not in the channel …): leave it for a while."""
        await self._r.set(_refused_key(run_id), "1", ex=REFUSED_PAUSE_S)

    async def refused_recently(self, run_id: str) -> bool:
        return bool(await self._r.exists(_refused_key(run_id)))

    @asynccontextmanager
    async def lock(self, run_id: str, *, wait: bool = True) -> AsyncIterator[bool]:
        """Yields whether the lock is held: always with `wait` (or LockError after 20 s), and
        False at once without `wait` when another process holds it."""
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
