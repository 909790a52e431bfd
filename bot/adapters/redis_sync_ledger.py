"""Created issue numbers per run, recorded in Redis as each issue is created.

A sync that crashes or times out resumes from this hash (and from the markers in GitHub), so no
item is created twice.
"""

from __future__ import annotations

import json

from bot.adapters.redis_store import RedisRunStore
from bot.domain.models import Actor


def ledger_key(run_id: str) -> str:
    return f"pass:run:{run_id}:synced"


class RedisSyncLedger:
    """Also the audit trail of what reached GitHub: each created issue is one audit event."""

    def __init__(self, store: RedisRunStore) -> None:
        self._store = store
        self._r = store.client

    async def already_created(self, run_id: str) -> dict[str, tuple[int, str]]:
        raw: dict[str, str] = await self._r.hgetall(ledger_key(run_id))  # type: ignore[misc]
        out: dict[str, tuple[int, str]] = {}
        for key, value in raw.items():
            data = json.loads(value)
            out[key] = (int(data["number"]), str(data["url"]))
        return out

    async def record_created(self, run_id: str, key: str, number: int, url: str) -> None:
        await self._r.hset(ledger_key(run_id), key, json.dumps({"number": number, "url": url}))  # type: ignore[misc]
        await self._store.record(
            run_id,
            actor=Actor.SYSTEM,
            actor_id="github-sync",
            action="issue.created",
            detail={"key": key, "number": number, "url": url},
        )
