"""Two `passbot serve` replicas and a `passbot worker` on one Redis: the same Approve click reaching
both replicas (and a second approver clicking at the same moment) makes one sync, one set of issues."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from bot.adapters.api_tokens import ApiTokenStore
from bot.adapters.redis_store import RedisRunStore
from bot.domain.status import RunStatus
from bot.slack.actions import ActionId, ButtonValue
from tests.github.fake_github_api import FakeGitHub
from tests.helpers import PRDS, RedisProcess, clean_env, free_port
from tests.scale.procs import healthy, policy_dir, processes, started
from tests.slack import slack_requests as sr
from tests.slack.fake_slack import BOT_TOKEN, FakeSlack

TINY = (PRDS / "02_taskmaster_test_prd_tiny.md").read_text()
GH_TOKEN = "gh-token-for-the-fake"
REPO = "acme/widgets"


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeSlack, FakeGitHub]]:
    slack, github = FakeSlack(), FakeGitHub()
    github.add_token(GH_TOKEN)
    github.add_repo(REPO)
    await slack.start()
    await github.start()
    yield slack, github
    await github.close()
    await slack.close()


async def test_one_approve_click_at_two_replicas_makes_one_sync(
    tmp_path: Path, redis_server: RedisProcess, redis_client: aioredis.Redis, fakes: tuple[FakeSlack, FakeGitHub]
) -> None:
    slack, github = fakes
    ports = [free_port(), free_port()]
    env = clean_env(
        tmp_path / "data",
        REDIS_URL=redis_server.url,
        PASS_POLICY_DIR=str(policy_dir(tmp_path, github_write_interval_s=0)),
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=sr.SIGNING_SECRET,
        SLACK_API_URL=slack.api_url,
        GITHUB_TOKEN=GH_TOKEN,
        GITHUB_API_URL=github.base_url,
    )
    store = RedisRunStore(redis_client)
    token = await ApiTokenStore(redis_client).create("ci", frozenset({"runs:write"}))
    with processes(tmp_path, env) as procs:
        replicas = [procs.passbot(f"serve-{n}", "serve", "--port", str(p)) for n, p in zip("ab", ports, strict=True)]
        worker = procs.passbot("worker", "worker", "--concurrency", "2")
        async with aiohttp.ClientSession() as http:
            for port in ports:
                await procs.until(lambda port=port: healthy(http, port), f"replica on {port} answering")
            await procs.until(started(worker, "worker.started"), "the worker starting")

            body = json.dumps({"prd": TINY, "channel": "CPLAN", "requester": "ci-bot", "repo": REPO})
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            async with http.post(f"http://127.0.0.1:{ports[0]}/api/runs", data=body, headers=headers) as response:
                assert response.status == 202
                run_id = (await response.json())["run_id"]

            async def staged() -> bool:
                return (await store.get(run_id)).status is RunStatus.AWAITING_APPROVAL

            await procs.until(staged, "the worker staging the plan")
            run = await store.get(run_id)
            assert run.plan is not None and run.plan_hash is not None
            value = ButtonValue(run_id=run_id, plan_hash=run.plan_hash).encode()

            def click(user: str) -> str:
                return sr.block_action(
                    ActionId.APPROVE.value,
                    value,
                    user=user,
                    channel="CPLAN",
                    message_ts="1.0",
                    response_url=slack.response_url(user),
                )

            same, other = click("UAPPROVER1"), click("UAPPROVER2")

            async def post(port: int, payload: str) -> int:
                signed = sr.signed_headers(payload, "application/x-www-form-urlencoded")
                url = f"http://127.0.0.1:{port}/slack/events"
                async with http.post(url, data=payload.encode(), headers=signed) as response:
                    return response.status

            statuses = await asyncio.gather(post(ports[0], same), post(ports[1], same), post(ports[1], other))
            assert statuses == [200, 200, 200]

            async def synced() -> bool:
                return (await store.get(run_id)).status is RunStatus.SYNCED

            await procs.until(synced, "the sync finishing")
        codes = [p.stop() for p in [*replicas, worker]]
    assert codes == [0, 0, 0]

    actions = [e.action for _, e in await store.audit_events(run_id=run_id)]
    assert actions.count("sync.started") == 1 and "sync.resumed" not in actions
    assert actions.count("approval.recorded") == 1, "the second approver found it already approved"
    done = await store.get(run_id)
    assert done.plan is not None
    assert len(github.repos[REPO].issues) == len(done.plan.items) + 1, "each item once, plus the tracking issue"
    assert len(github.issue_writes()) == len(done.plan.items) + 1
