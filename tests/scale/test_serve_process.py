"""A real `passbot serve` process: what it refuses, what a redelivery does, and how it fails closed
while Redis is down and comes back by itself when Redis does."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from bot.adapters.api_tokens import ApiTokenStore
from bot.adapters.redis_store import RedisRunStore
from bot.domain.models import Source
from bot.domain.signatures import sign_pass
from bot.domain.status import RunStatus
from bot.planner.heuristic import HeuristicPlanner
from bot.policies import Policies
from bot.services.dry_run import DryRunSyncer
from bot.services.runs import RunService
from bot.slack.actions import ActionId, ButtonValue
from tests.helpers import PRDS, RedisProcess, clean_env, free_port
from tests.scale.procs import healthy, processes
from tests.slack import slack_requests as sr
from tests.slack.fake_slack import BOT_TOKEN, FakeSlack

TINY = (PRDS / "02_taskmaster_test_prd_tiny.md").read_text()
SECRET = "webhook-secret-for-process-tests"
BODY = json.dumps({"prd": TINY, "channel": None, "requester": "ci-bot", "repo": None}).encode()


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    await fake.start()
    yield fake
    await fake.close()


def _signed(ts: int | None = None, **headers: str) -> dict[str, str]:
    stamp = str(int(time.time()) if ts is None else ts)
    return {"X-Pass-Timestamp": stamp, "X-Pass-Signature": sign_pass(SECRET, stamp, BODY), **headers}


class Client:
    def __init__(self, http: aiohttp.ClientSession, port: int) -> None:
        self.http = http
        self.base = f"http://127.0.0.1:{port}"

    async def call(
        self, method: str, path: str, *, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        async with self.http.request(method, self.base + path, data=body, headers=headers or {}) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text


async def test_serve_refuses_forgeries_folds_redeliveries_and_fails_closed_while_redis_is_down(
    tmp_path: Path, own_redis: RedisProcess, own_client: aioredis.Redis, fake_slack: FakeSlack
) -> None:
    port = free_port()
    env = clean_env(
        tmp_path / "data",
        REDIS_URL=own_redis.url,
        PASS_HTTP_PORT=str(port),
        PASS_WEBHOOK_SECRET=SECRET,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=sr.SIGNING_SECRET,
        SLACK_API_URL=fake_slack.api_url,
    )
    store = RedisRunStore(own_client)
    tokens = ApiTokenStore(own_client)
    reader = await tokens.create("reader", frozenset({"runs:read"}))
    writer = await tokens.create("writer", frozenset({"runs:write"}))
    # A plan staged for approval, to click on while Redis is down.
    runs = RunService(store, HeuristicPlanner(), DryRunSyncer(tmp_path / "out", reason="test"), Policies())
    staged, _ = await runs.submit(TINY, source=Source.SLACK, requester="UREQ", channel="CPLAN")
    staged = await runs.execute(staged.run_id)
    assert staged.status is RunStatus.AWAITING_APPROVAL and staged.plan_hash

    with processes(tmp_path, env) as procs:
        serve = procs.passbot("serve", "serve")
        async with aiohttp.ClientSession() as http:
            api = Client(http, port)
            await procs.until(lambda: healthy(http, port), "serve answering /healthz")

            # A redelivered webhook (same Idempotency-Key) starts one run.
            first_ts = int(time.time())
            first = await api.call(
                "POST", "/hooks/prd", body=BODY, headers=_signed(first_ts, **{"Idempotency-Key": "d-1"})
            )
            again = await api.call(
                "POST", "/hooks/prd", body=BODY, headers=_signed(first_ts, **{"Idempotency-Key": "d-1"})
            )
            assert first[0] == again[0] == 202
            assert first[1]["created"] and not again[1]["created"] and again[1]["run_id"] == first[1]["run_id"]
            assert len(await store.list_runs()) == 2

            # Forged, replayed, unauthenticated and under-scoped requests: refused, and why.
            forged = {**_signed(), "X-Pass-Signature": "sha256=" + "0" * 64}
            status, answer = await api.call("POST", "/hooks/prd", body=BODY, headers=forged)
            assert status == 401 and answer["error"] == "signature does not match the body"
            status, answer = await api.call("POST", "/hooks/prd", body=BODY, headers=_signed(ts=int(time.time()) - 600))
            assert status == 401 and "5-minute window" in answer["error"]
            status, answer = await api.call(
                "POST", "/api/runs", body=BODY, headers={"Authorization": f"Bearer {reader}"}
            )
            assert status == 403 and "lacks the runs:write scope" in answer["error"]
            status, answer = await api.call("POST", "/api/runs", body=BODY)
            assert status == 401 and "missing bearer token" in answer["error"]
            status, _ = await api.call(
                "GET", f"/api/runs/{first[1]['run_id']}", headers={"Authorization": f"Bearer {writer}"}
            )
            assert status == 403
            assert len(await store.list_runs()) == 2, "nothing refused started a run"

            # /metrics: the run that waits for a worker is in the queue depth.
            status, text = await api.call("GET", "/metrics")
            assert status == 200 and "pass_queue_depth 1.0" in text

            own_redis.stop()
            status, answer = await api.call("GET", "/healthz")
            assert status == 503 and answer["redis"] == "down"
            status, answer = await api.call(
                "POST", "/hooks/prd", body=BODY, headers=_signed(**{"Idempotency-Key": "d-2"})
            )
            assert status == 503 and "nothing was started" in answer["error"]
            status, _ = await api.call("POST", "/api/runs", body=BODY, headers={"Authorization": f"Bearer {writer}"})
            assert status == 503
            status, _ = await api.call("GET", "/metrics")
            assert status == 503
            click = sr.block_action(
                ActionId.APPROVE.value,
                ButtonValue(run_id=staged.run_id, plan_hash=staged.plan_hash).encode(),
                user="UAPPROVER",
                channel="CPLAN",
                message_ts="1.0",
                response_url=fake_slack.response_url("click"),
            )
            headers = sr.signed_headers(click, "application/x-www-form-urlencoded")
            status, _ = await api.call("POST", "/slack/events", body=click.encode(), headers=headers)
            assert status == 200

            async def told() -> bool:
                return any("cannot reach its store" in text for text in fake_slack.ephemerals())

            await procs.until(told, "the person being told PASS cannot reach its store")
            assert "nothing was approved or started" in fake_slack.ephemerals()[-1]

            own_redis.start()  # same port, same append-only file
            await procs.until(lambda: healthy(http, port), "serve reconnecting by itself")
            # Another second than the first delivery's: the same body signed at the same second is
            # the same signature, which is folded as a replay.
            status, answer = await api.call(
                "POST", "/hooks/prd", body=BODY, headers=_signed(first_ts - 1, **{"Idempotency-Key": "d-2"})
            )
            assert status == 202 and answer["created"]

        after = await store.get(staged.run_id)
        assert after.status is RunStatus.AWAITING_APPROVAL and after.approvals == [], "the click approved nothing"
        assert len(await store.list_runs()) == 3
        assert serve.stop() == 0


async def test_a_redis_that_hangs_is_answered_as_unavailable_not_waited_on_forever(
    tmp_path: Path, own_redis: RedisProcess, own_client: aioredis.Redis
) -> None:
    port = free_port()
    env = clean_env(tmp_path / "data", REDIS_URL=own_redis.url, PASS_HTTP_PORT=str(port))
    writer = await ApiTokenStore(own_client).create("writer", frozenset({"runs:write"}))
    auth = {"Authorization": f"Bearer {writer}"}
    assert own_redis.proc is not None
    with processes(tmp_path, env) as procs:
        serve = procs.passbot("serve", "serve")
        async with aiohttp.ClientSession() as http:
            api = Client(http, port)
            await procs.until(lambda: healthy(http, port), "serve answering /healthz")

            # Stopped, not dead: connections open, nothing answers (a frozen host looks like this).
            own_redis.proc.send_signal(signal.SIGSTOP)
            try:
                status, answer = await api.call("POST", "/api/runs", body=BODY, headers=auth)
                assert status == 503 and "nothing was started" in answer["error"]
                status, answer = await api.call("GET", "/healthz")
                assert status == 503 and answer["redis"] == "down"
            finally:
                own_redis.proc.send_signal(signal.SIGCONT)

            await procs.until(lambda: healthy(http, port), "serve answering again once Redis does")
            status, answer = await api.call("POST", "/api/runs", body=BODY, headers=auth)
            assert status == 202 and answer["created"]
        assert serve.stop() == 0
    assert len(await RedisRunStore(own_client).list_runs()) == 1
