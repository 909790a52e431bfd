"""The queue, the worker, and `passbot serve` + `passbot worker` as real processes."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from bot.adapters.queue import SaqJobQueue
from bot.adapters.redis_store import RedisRunStore
from bot.domain.models import Source
from bot.domain.status import RunStatus
from bot.entrypoints.worker import build_worker, drain
from bot.services.ports import JobKind
from bot.services.runs import RunService
from tests.helpers import PRDS, REPO_ROOT, RedisProcess, clean_env, free_port
from tests.scale.procs import policy_dir
from tests.slack import slack_requests as sr
from tests.slack.fake_slack import BOT_TOKEN, FakeSlack

TINY = (PRDS / "02_taskmaster_test_prd_tiny.md").read_text()


async def test_a_run_is_queued_once_while_its_job_is_pending(
    redis_client: aioredis.Redis, runs: RunService, store: RedisRunStore
) -> None:
    queue = SaqJobQueue.on(redis_client)
    await queue.connect()
    try:
        run, _ = await runs.submit(TINY, source=Source.SLACK, requester="U1")
        assert await queue.enqueue(JobKind.EXECUTE_RUN, run.run_id)
        assert not await queue.enqueue(JobKind.EXECUTE_RUN, run.run_id), "same key while pending"
        worker = build_worker(queue, runs, dequeue_timeout_s=0.05)
        assert await drain(worker) == 1
        assert (await store.get(run.run_id)).status is RunStatus.AWAITING_APPROVAL
        # A late duplicate (after the first finished) finds nothing to do and changes nothing.
        assert await queue.enqueue(JobKind.EXECUTE_RUN, run.run_id)
        assert await drain(worker) == 1
        job = await queue.saq.job(f"execute:{run.run_id}")
        assert job is not None and job.result == "skipped"
        assert (await store.get(run.run_id)).status is RunStatus.AWAITING_APPROVAL
    finally:
        await queue.close()


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    await fake.start()
    yield fake
    await fake.close()


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "bot", *args], env=env, cwd=REPO_ROOT, stdout=out, stderr=out)


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=20)


async def _until(check: Callable[[], Awaitable[bool]], what: str, log: Path, timeout_s: float = 20) -> None:
    """Wait for a condition another process brings about (not a timing assertion: the deadline
    only turns a hang into a failure that shows the process log)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not happen; log:\n{log.read_text()[-3000:]}")
        await asyncio.sleep(0.05)


async def test_serve_and_worker_processes_take_a_plan_from_slack_to_a_staged_card_through_a_slack_outage(
    tmp_path: Path, redis_server: RedisProcess, redis_client: aioredis.Redis, fake_slack: FakeSlack
) -> None:
    port = free_port()
    env = clean_env(
        tmp_path / "data",
        REDIS_URL=redis_server.url,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=sr.SIGNING_SECRET,
        SLACK_API_URL=fake_slack.api_url,
        PASS_HTTP_PORT=str(port),
        # The worker's scans (crash recovery, cards Slack missed) every second instead of 15.
        PASS_POLICY_DIR=str(policy_dir(tmp_path, recovery_scan_interval_s=1)),
    )
    serve_log, worker_log = tmp_path / "serve.log", tmp_path / "worker.log"
    serve = _start(["serve"], env, serve_log)
    worker = None
    try:
        async with aiohttp.ClientSession() as http:

            async def healthy() -> bool:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return False

            await _until(healthy, "serve answering /healthz", serve_log)
            body = sr.slash_command(
                f"plan {TINY}", user="UREQ", channel="CPROC", response_url=fake_slack.response_url("p")
            )
            headers = sr.signed_headers(body, "application/x-www-form-urlencoded")
            async with http.post(f"http://127.0.0.1:{port}/slack/events", data=body, headers=headers) as response:
                assert response.status == 200

            async def card_posted() -> bool:
                return bool(fake_slack.of("chat.postMessage"))

            await _until(card_posted, "the card being posted", serve_log)
            store = RedisRunStore(redis_client)
            (run,) = await store.list_runs()
            assert run.status is RunStatus.QUEUED

            # Slack's API goes down while the worker plans: the run goes on without it.
            fake_slack.down = True
            worker = _start(["worker", "--concurrency", "2"], env, worker_log)

            async def planned() -> bool:
                return (await store.get(run.run_id)).status is RunStatus.AWAITING_APPROVAL

            await _until(planned, "the worker planning the run", worker_log)
            assert not fake_slack.of("chat.update")

            async def card_staged() -> bool:
                return any("Waiting for approval" in str(u.get("blocks")) for u in fake_slack.of("chat.update"))

            # Slack is back: the worker's catch-up scan draws the card it missed.
            fake_slack.down = False
            await _until(card_staged, "the worker redrawing the card once Slack was back", worker_log)
    finally:
        codes = [_stop(serve)] + ([_stop(worker)] if worker else [])
    assert codes == [0] * len(codes), "both processes stop cleanly on SIGTERM"
    assert "will be unused" not in serve_log.read_text(), "serve starts without Bolt's token warning"
