"""A `/pass verify` job taken by a worker that cannot answer in Slack is not dropped silently: the
worker says why, with the fix, where its operator looks (its log)."""

from __future__ import annotations

import redis.asyncio as aioredis
from structlog.testing import capture_logs

from bot.adapters.queue import SaqJobQueue
from bot.entrypoints.worker import build_worker, drain
from bot.services.ports import JobKind
from bot.services.runs import RunService


async def test_a_verify_job_on_a_worker_without_slack_says_why_it_was_not_answered(
    runs: RunService, redis_client: aioredis.Redis
) -> None:
    queue = SaqJobQueue.on(redis_client)
    await queue.connect()
    try:
        await queue.enqueue(JobKind.VERIFY_REPO, "req-1", repo="acme/app", channel="C1", user="U1")
        worker = build_worker(queue, runs, dequeue_timeout_s=0.05)
        with capture_logs() as logs:
            assert await drain(worker) == 1
    finally:
        await queue.close()
    (unanswered,) = [e for e in logs if e["event"] == "job.unanswered"]
    assert unanswered["log_level"] == "warning" and unanswered["repo"] == "acme/app"
    assert "set SLACK_BOT_TOKEN on every worker" in unanswered["reason"]
