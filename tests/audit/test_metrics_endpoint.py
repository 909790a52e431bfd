"""GET /metrics: Prometheus text built per scrape from the runs in the real Redis, over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot.adapters.redis_store import RedisRunStore
from bot.domain.models import Actor
from bot.entrypoints.web.metrics import metrics_handler, render_metrics
from tests.audit.runs_fixture import NOW, metric_fixture
from tests.helpers import free_port


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
async def stored(store: RedisRunStore) -> RedisRunStore:
    for run in metric_fixture():
        await store.create(run, actor=Actor.HUMAN, actor_id=run.requester)
    return store


async def test_the_exposition_carries_the_metrics_queue_depth_and_runs_by_state(stored: RedisRunStore) -> None:
    async def depth() -> int:
        return 7

    body = await render_metrics(stored, depth, now=NOW)
    s = _samples(body.decode())
    assert s[("pass_queue_depth", ())] == 7
    assert s[("pass_runs", (("state", "synced"),))] == 2
    assert s[("pass_runs", (("state", "failed"),))] == 2
    assert s[("pass_runs", (("state", "awaiting_approval"),))] == 1  # "old" is inside 30 days
    assert s[("pass_lead_time_seconds", (("quantile", "0.5"), ("stage", "synced")))] == 2530
    assert s[("pass_verification_pass_ratio", ())] == pytest.approx(3 / 4)  # r1, r2, old passed; r3 failed
    assert s[("pass_time_to_diagnosis_seconds", (("quantile", "0.5"),))] == 35
    assert s[("pass_failures_undiagnosed", ())] == 1
    # "old" joins r1 and r2 in C1/acme/a over the default 30 days
    assert s[("pass_group_runs", (("channel", "C1"), ("repo", "acme/a")))] == 3
    assert s[("pass_prompt_tokens", (("channel", "C1"), ("repo", "acme/a")))] == 1000 + 2000 + 99_999
    assert s[("pass_verification_verdicts", (("channel", "C2"), ("repo", "acme/b"), ("result", "failed")))] == 1
    assert s[("pass_retry_loops", (("channel", "none"), ("repo", "none")))] == 0


async def test_without_a_queue_there_is_no_queue_depth(stored: RedisRunStore) -> None:
    s = _samples((await render_metrics(stored, None, now=NOW)).decode())
    assert ("pass_queue_depth", ()) not in s and s[("pass_runs", (("state", "blocked"),))] == 1


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/metrics"


async def test_get_metrics_over_http_and_503_when_redis_is_gone(
    stored: RedisRunStore, http: aiohttp.ClientSession
) -> None:
    app = web.Application()
    app.router.add_get("/metrics", metrics_handler(stored))
    runner, url = await _serve(app)
    try:
        async with http.get(url) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            assert "pass_runs{" in await response.text()
    finally:
        await runner.cleanup()

    # Nothing listens there; no retries, so the refusal is immediate.
    gone = aioredis.Redis(host="127.0.0.1", port=free_port(), decode_responses=True, retry=Retry(NoBackoff(), 0))
    app = web.Application()
    app.router.add_get("/metrics", metrics_handler(RedisRunStore(gone)))
    runner, url = await _serve(app)
    try:
        async with http.get(url) as response:
            assert response.status == 503
    finally:
        await runner.cleanup()
        await gone.aclose()
