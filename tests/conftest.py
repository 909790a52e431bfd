from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot.adapters.queue import SaqJobQueue
from bot.adapters.redis_store import RedisRunStore
from bot.planner.heuristic import HeuristicPlanner
from bot.policies import Policies
from bot.services.approvals import Approvals
from bot.services.dry_run import DryRunSyncer
from bot.services.runs import RunService
from tests.helpers import RedisProcess, stop_line


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """One real redis-server for the session; each test gets a flushed database."""
    server = RedisProcess(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def redis_client(redis_server: RedisProcess) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
async def queue(redis_client: aioredis.Redis) -> AsyncIterator[SaqJobQueue]:
    """The real saq queue on the test's Redis."""
    q = SaqJobQueue.on(redis_client)
    await q.connect()
    yield q
    await q.close()


@pytest.fixture
def store(redis_client: aioredis.Redis) -> RedisRunStore:
    return RedisRunStore(redis_client)


@pytest.fixture
def runs(store: RedisRunStore, tmp_path: Path) -> RunService:
    return RunService(store, HeuristicPlanner(), DryRunSyncer(tmp_path / "runs", reason="test"), Policies())


@pytest.fixture
def approvals(runs: RunService) -> Approvals:
    return stop_line(runs)
