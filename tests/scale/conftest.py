"""A redis-server of the test's own (it is stopped and restarted by some tests), and services on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot.adapters.queue import SaqJobQueue
from tests.helpers import RedisProcess


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def own_client(own_redis: RedisProcess) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(own_redis.url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def own_queue(own_client: aioredis.Redis) -> AsyncIterator[SaqJobQueue]:
    queue = SaqJobQueue.on(own_client)
    await queue.connect()
    yield queue
    await queue.close()
