"""Audit-chained commits under concurrency: every state change watches the one audit head.

Writers in one process take turns (RedisRunStore's lock); writers in separate processes (here:
separate stores on their own connections) still collide and redo their transaction. Prints the
time for N events and how many transactions were redone, per layout.

Run: PYTHONPATH=. python bench/store_commits.py [N]      (default 600 events per layout)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import WatchError

from bot.adapters.redis_store import RedisRunStore
from bot.domain.models import Actor
from tests.helpers import RedisProcess

redone = 0


def _count_redos() -> None:
    """Count WatchErrors as they pass (the store retries them itself)."""
    execute = aioredis.client.Pipeline.execute

    async def counting(self: aioredis.client.Pipeline, *args: Any, **kwargs: Any) -> Any:
        global redone
        try:
            return await execute(self, *args, **kwargs)
        except WatchError:
            redone += 1
            raise

    aioredis.client.Pipeline.execute = counting  # type: ignore[method-assign]


async def main(events: int) -> None:
    global redone
    _count_redos()
    redis = RedisProcess(Path(tempfile.mkdtemp(prefix="passbot-bench-commits-")))
    redis.start()
    clients = [aioredis.Redis.from_url(redis.url, decode_responses=True) for _ in range(3)]
    try:
        for stores, writers in ((1, 1), (1, 16), (3, 3), (3, 48)):
            store_list = [RedisRunStore(c) for c in clients[:stores]]
            redone = 0

            async def writer(store: RedisRunStore, n: int) -> None:
                for i in range(n):
                    await store.record(f"run{i}", actor=Actor.SYSTEM, actor_id="bench", action="bench.event")

            start = time.perf_counter()
            await asyncio.gather(*(writer(store_list[i % stores], events // writers) for i in range(writers)))
            elapsed = time.perf_counter() - start
            print(
                f"{stores} process(es), {writers:2d} concurrent writers: {events} events in {elapsed * 1000:6.0f} ms"
                f" ({events / elapsed:6.0f}/s), transactions redone: {redone}"
            )
    finally:
        for client in clients:
            await client.aclose()
        redis.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 600))
