"""Where each run's card lives in Slack (channel, ts, thread), kept in Redis beside the run.

The web process posts a card and the worker updates it, so the reference is shared state. A short
per-run lock serialises updates (each renders the latest run, so the last writer shows the newest
state), and `once()` makes thread posts (details, issue list) happen exactly once per run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict

from bot.adapters.redis_store import PREFIX

CARD_TTL_S = 90 * 24 * 3600


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


class CardStore:
    def __init__(self, client: aioredis.Redis) -> None:
        self._r = client

    async def get(self, run_id: str) -> CardRef | None:
        raw = await self._r.get(_card_key(run_id))
        return CardRef.model_validate_json(raw) if raw else None

    async def save(self, run_id: str, ref: CardRef) -> None:
        await self._r.set(_card_key(run_id), ref.model_dump_json(), ex=CARD_TTL_S)

    async def once(self, run_id: str, what: str) -> bool:
        """True the first time `what` is claimed for this run, False ever after."""
        claimed = await self._r.set(f"{PREFIX}:slack:once:{run_id}:{what}", "1", nx=True, ex=CARD_TTL_S)
        return bool(claimed)

    @asynccontextmanager
    async def lock(self, run_id: str) -> AsyncIterator[None]:
        # timeout: a crashed holder frees the card after 30 s; blocking: wait for the other update.
        async with self._r.lock(f"{PREFIX}:slack:lock:{run_id}", timeout=30, blocking_timeout=20):
            yield
