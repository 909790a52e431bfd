"""Which run last synced a given PRD (by sha256) to a given repo: one Redis key per pair, so a
re-run of the same PRD is found in one read however many runs there are."""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

from bot.adapters.redis_store import PREFIX


def synced_prd_key(prd_sha256: str, repo: str) -> str:
    # GitHub repo names are case-insensitive.
    repo_id = hashlib.sha256(repo.lower().encode()).hexdigest()[:16]
    return f"{PREFIX}:synced_prd:{prd_sha256}:{repo_id}"


class SyncedPrds:
    def __init__(self, client: Redis) -> None:
        self._r = client

    async def remember(self, prd_sha256: str, repo: str, run_id: str) -> None:
        await self._r.set(synced_prd_key(prd_sha256, repo), run_id)

    async def last_run(self, prd_sha256: str, repo: str) -> str | None:
        value = await self._r.get(synced_prd_key(prd_sha256, repo))
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)
