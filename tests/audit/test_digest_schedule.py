"""Scheduled digests with several workers on the real Redis, posting to a local Slack server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.redis_digest_ledger import RedisDigestLedger, claim_key
from bot.adapters.redis_store import RedisRunStore
from bot.adapters.slack_digest_sender import SlackDigestSender
from bot.digest_policy import DigestPolicy, DigestSchedule
from bot.domain.models import Actor
from bot.policies import ApprovalPolicy, ApprovalRule
from bot.services.digest import DigestService
from tests.audit.runs_fixture import HAPPY, make_run
from tests.helpers import RedisProcess
from tests.slack.fake_slack import BOT_TOKEN, FakeSlack

BERLIN = "Europe/Berlin"
# Weekdays at 09:00 Berlin = 07:00 UTC in May (CEST).
POLICY = DigestPolicy(
    schedules=[DigestSchedule(channel="C_DIGEST", cron="0 9 * * 1-5", timezone=BERLIN)],
    nudge_after_hours=24,
    daily_token_budget=10_000,
)
MONDAY_0900 = datetime(2024, 5, 6, 7, 0, tzinfo=UTC)

Workers = Callable[[int], Awaitable[list[DigestService]]]


@pytest.fixture
async def workers(redis_server: RedisProcess, redis_client: aioredis.Redis, slack: FakeSlack) -> AsyncIterator[Workers]:
    """Start N workers, each with its own Redis connection and Slack client, like N processes.
    (`redis_client` is asked for first: it flushes the database.)"""
    clients: list[aioredis.Redis] = []

    async def start(n: int, policy: DigestPolicy = POLICY) -> list[DigestService]:
        started = []
        for i in range(n):
            client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
            clients.append(client)
            sender = SlackDigestSender(AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url))
            started.append(
                DigestService(
                    RedisRunStore(client),
                    RedisDigestLedger(client),
                    sender,
                    policy,
                    ApprovalPolicy(),
                    worker_id=f"worker-{len(clients)}-{i}",
                )
            )
        return started

    yield start
    for client in clients:
        await client.aclose()


async def _tick(services: list[DigestService], now: datetime) -> None:
    await asyncio.gather(*(s.send_due(now) for s in services))


async def test_three_workers_and_a_restart_send_exactly_one_digest_per_slot(
    workers: Workers, slack: FakeSlack, redis_client: aioredis.Redis
) -> None:
    store = RedisRunStore(redis_client)
    run = make_run("r1", MONDAY_0900 - timedelta(hours=3), [*HAPPY], channel="C1", title="Checkout v2")
    await store.create(run, actor=Actor.HUMAN, actor_id="U_REQ")

    three = await workers(3)
    # Every worker ticks every minute around the slot, all at once.
    for minute in range(-2, 4):
        await _tick(three, MONDAY_0900 + timedelta(minutes=minute, seconds=1))
    assert len(slack.posts) == 1
    assert "Mon 06 May 09:00" in slack.posts[0].all_text and "late" not in slack.posts[0].text

    # The workers restart (new processes, new connections) and tick again within the same slot.
    restarted = await workers(3)
    await _tick(restarted, MONDAY_0900 + timedelta(minutes=10))
    assert len(slack.posts) == 1

    # Next weekday's slot: again exactly one.
    tuesday = MONDAY_0900 + timedelta(days=1)
    for minute in range(3):
        await _tick([*three, *restarted], tuesday + timedelta(minutes=minute))
    assert len(slack.posts) == 2
    assert "Tue 07 May 09:00" in slack.posts[1].all_text
    assert "Checkout v2" in slack.posts[0].all_text  # the run waiting for approval is listed


async def test_a_slot_missed_during_downtime_is_sent_once_late_and_only_the_latest(
    workers: Workers, slack: FakeSlack
) -> None:
    three = await workers(3)
    await _tick(three, MONDAY_0900 + timedelta(seconds=30))
    assert len(slack.posts) == 1
    # PASS is down from Monday until Friday 11:40 Berlin: Tue, Wed, Thu and Fri slots all passed.
    back = MONDAY_0900 + timedelta(days=4, hours=2, minutes=40)
    restarted = await workers(3)
    for minute in range(3):
        await _tick(restarted, back + timedelta(minutes=minute))
    assert len(slack.posts) == 2
    late = slack.posts[1]
    assert "Fri 10 May 09:00" in late.all_text
    assert "This digest is late" in late.all_text and "2h 40m later" in late.all_text
    assert "(late)" in late.text
    # It covers everything since the last digest that went out (Monday), not just one day.
    assert "Runs since Mon 06 May 09:00" in late.all_text


async def test_a_new_schedule_does_not_post_a_late_digest_for_a_slot_before_it_existed(
    workers: Workers, slack: FakeSlack
) -> None:
    [worker] = await workers(1)
    await worker.send_due(MONDAY_0900 + timedelta(hours=5))
    assert slack.posts == []
    await worker.send_due(MONDAY_0900 + timedelta(days=1, seconds=5))
    assert len(slack.posts) == 1


async def test_a_refused_post_is_retried_on_the_next_tick_and_then_sent_once(
    workers: Workers, slack: FakeSlack
) -> None:
    three = await workers(3)
    slack.refuse_next["chat.postMessage"] = ["internal_error"]
    await _tick(three, MONDAY_0900 + timedelta(seconds=5))
    assert slack.posts == []
    await _tick(three, MONDAY_0900 + timedelta(minutes=1))
    await _tick(three, MONDAY_0900 + timedelta(minutes=2))
    assert len(slack.posts) == 1


async def test_on_demand_digests_do_not_move_the_schedule(workers: Workers, slack: FakeSlack) -> None:
    [worker] = await workers(1)
    await worker.send_now("C_DIGEST", now=MONDAY_0900 - timedelta(minutes=5))
    await worker.send_now("C_OTHER", now=MONDAY_0900 - timedelta(minutes=4))
    assert [p.channel for p in slack.posts] == ["C_DIGEST", "C_OTHER"]
    assert "sent on request" in slack.posts[0].all_text
    await worker.send_due(MONDAY_0900 + timedelta(seconds=5))
    assert len(slack.posts) == 3


async def test_an_unknown_channel_is_not_marked_sent(workers: Workers, slack: FakeSlack) -> None:
    slack.channel_errors["C_DIGEST"] = "channel_not_found"
    [worker] = await workers(1)
    assert await worker.send_due(MONDAY_0900 + timedelta(seconds=5)) == []
    slack.channel_errors.clear()
    sent = await worker.send_due(MONDAY_0900 + timedelta(minutes=1))
    assert len(sent) == 1 and len(slack.posts) == 1


async def test_an_overdue_approval_nudges_its_allowed_approvers(
    redis_server: RedisProcess, slack: FakeSlack, redis_client: aioredis.Redis
) -> None:
    store = RedisRunStore(redis_client)
    staged_long_ago = make_run("old1", MONDAY_0900 - timedelta(days=2), [*HAPPY], channel="C_PAY", title="Payouts")
    fresh = make_run("new1", MONDAY_0900 - timedelta(hours=2), [*HAPPY], channel="C_PAY", title="Refunds")
    for run in (fresh, staged_long_ago):
        await store.create(run, actor=Actor.HUMAN, actor_id="U_REQ")
    approvals = ApprovalPolicy(channels={"C_PAY": ApprovalRule(allow_users=["U_ANN", "U_BOB"], allow_groups=["S_PAY"])})
    service = DigestService(
        store,
        RedisDigestLedger(redis_client),
        SlackDigestSender(AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)),
        POLICY,
        approvals,
    )
    await service.send_now("C_DIGEST", now=MONDAY_0900)
    text = slack.posts[0].all_text
    assert text.index("Payouts") < text.index("Refunds")  # oldest first
    nudges = text[text.index("Waiting over 24h") :]
    assert "<@U_ANN> <@U_BOB> <!subteam^S_PAY>: please review" in nudges
    assert "Payouts" in nudges and "Refunds" not in nudges  # only the one waiting past the threshold
    assert "U_REQ" not in text  # the requester is not asked to approve their own run


async def test_a_worker_killed_while_sending_does_not_lose_the_slot(
    workers: Workers, slack: FakeSlack, redis_client: aioredis.Redis
) -> None:
    # A worker claimed the slot and died before posting: its lease (1 s here) runs out in Redis.
    dead = RedisDigestLedger(redis_client, lease_s=1)
    assert await dead.claim("C_DIGEST", MONDAY_0900, "dead-worker")
    three = await workers(3)
    await _tick(three, MONDAY_0900 + timedelta(seconds=10))
    assert slack.posts == []  # the claim still holds
    await asyncio.sleep(1.2)
    await _tick(three, MONDAY_0900 + timedelta(minutes=2))
    await _tick(three, MONDAY_0900 + timedelta(minutes=3))
    assert len(slack.posts) == 1 and "Mon 06 May 09:00" in slack.posts[0].all_text
    assert await redis_client.ttl(claim_key("C_DIGEST", MONDAY_0900)) > 24 * 3600  # kept once sent
