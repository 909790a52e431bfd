"""The Slack harness: the real Bolt app in HTTP mode on a loopback port, a fake Slack Web API,
a real redis-server, the real saq queue, and a worker the test drains when it chooses."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer

from bot.adapters.queue import SaqJobQueue
from bot.adapters.redis_cards import RedisCardStore
from bot.adapters.redis_server import RedisHandle
from bot.adapters.redis_store import RedisRunStore
from bot.bootstrap import Container
from bot.domain.models import Run
from bot.entrypoints.web.app import create_web_app
from bot.entrypoints.worker import build_worker, drain
from bot.planner.heuristic import HeuristicPlanner
from bot.policies import Policies
from bot.sandbox.command_policy import load_command_policy
from bot.services.dry_run import DryRunSyncer
from bot.services.ports import Syncer
from bot.services.repo_checks import RepoChecks
from bot.services.runs import RunService
from bot.settings import Settings
from bot.slack.actions import ActionId
from bot.slack.app import SlackApp, build_slack_app
from bot.slack.cards import CardRef, CardStore
from bot.slack.client import web_client
from bot.slack.verify_reporter import SlackVerifyReporter
from tests.slack import slack_requests as sr
from tests.slack.fake_slack import BOT_TOKEN, TEAM, FakeSlack

CHANNEL = "CPLAN"
REQUESTER = "UREQUESTER"
APPROVER = "UAPPROVER"


@dataclass
class Reply:
    status: int
    text: str

    def json(self) -> Any:
        return json.loads(self.text) if self.text else None


@dataclass
class Harness:
    fake: FakeSlack
    bot: TestServer
    store: RedisRunStore
    runs: RunService
    queue: SaqJobQueue
    slack: SlackApp
    cards: CardStore
    http: aiohttp.ClientSession
    _drain: Callable[[], Awaitable[int]]

    @property
    def events_url(self) -> str:
        return str(self.bot.make_url("/slack/events"))

    async def post(self, body: str, content_type: str, **kw: Any) -> Reply:
        headers = sr.signed_headers(body, content_type, **{k: v for k, v in kw.items() if k in {"secret", "timestamp"}})
        if kw.get("retry_num"):
            headers["X-Slack-Retry-Num"] = str(kw["retry_num"])
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        async with self.http.post(self.events_url, data=body.encode(), headers=headers) as response:
            return Reply(response.status, await response.text())

    async def command(self, text: str, *, user: str = REQUESTER, channel: str = CHANNEL, **kw: Any) -> Reply:
        body = sr.slash_command(text, user=user, channel=channel, response_url=self.fake.response_url("cmd"))
        return await self.post(body, "application/x-www-form-urlencoded", **kw)

    async def click(
        self, action: ActionId, value: str, *, user: str, channel: str = CHANNEL, ts: str = "1.0", team: str = TEAM
    ) -> Reply:
        body = sr.block_action(
            action.value,
            value,
            user=user,
            channel=channel,
            message_ts=ts,
            response_url=self.fake.response_url("click"),
            team=team,
        )
        return await self.post(body, "application/x-www-form-urlencoded")

    async def submit(
        self, callback_id: str, metadata: str, values: dict[str, Any], *, user: str, team: str = TEAM
    ) -> Reply:
        body = sr.view_submission(callback_id, metadata, values, user=user, team=team)
        return await self.post(body, "application/x-www-form-urlencoded")

    async def drain(self) -> int:
        return await self._drain()

    async def only_run(self) -> Run:
        runs = await self.store.list_runs()
        assert len(runs) == 1, [r.run_id for r in runs]
        return runs[0]

    async def card(self, run_id: str) -> tuple[CardRef, dict[str, Any]]:
        """Where the run's card is, and what Slack now shows in it."""
        ref = await self.cards.get(run_id)
        assert ref is not None, "no card was posted"
        return ref, self.fake.messages[(ref.channel, ref.ts)]

    async def approve_value(self, run_id: str) -> str:
        _, shown = await self.card(run_id)
        return button(shown, ActionId.APPROVE)["value"]


def button(message: dict[str, Any], action: ActionId) -> dict[str, Any]:
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == action.value:
                return dict(element)
    raise AssertionError(f"no {action.value} button on the card")


def has_buttons(message: dict[str, Any]) -> bool:
    return any(b.get("type") == "actions" for b in message.get("blocks") or [])


def card_text(message: dict[str, Any]) -> str:
    """Everything a person reads on a message, as one string."""
    return json.dumps(message.get("blocks") or [], ensure_ascii=False)


HarnessFactory = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def make_harness(redis_client: aioredis.Redis, tmp_path: Path) -> AsyncIterator[HarnessFactory]:
    cleanups: list[Callable[[], Awaitable[None]]] = []

    async def make(policies: Policies | None = None, *, github: Any = None, syncer: Syncer | None = None) -> Harness:
        fake = FakeSlack()
        await fake.start()
        cleanups.append(fake.close)
        settings = Settings(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=sr.SIGNING_SECRET,
            slack_api_url=fake.api_url,
            data_dir=tmp_path / "data",
            policy_dir=tmp_path / "no-policies",
            github_token=None,
            github_repo=None,
        )
        policies = policies or Policies()
        store = RedisRunStore(redis_client)
        syncer = syncer or DryRunSyncer(tmp_path / "runs", reason="test")
        runs = RunService(store, HeuristicPlanner(), syncer, policies)
        container = Container(
            settings=settings,
            policies=policies,
            redis=RedisHandle(client=redis_client, description="test"),
            store=store,
            planner=runs.planner,
            syncer=syncer,
            runs=runs,
        )
        queue = SaqJobQueue.on(redis_client)
        await queue.connect()
        cleanups.append(queue.close)
        # Outage retries (Slack answering 503) back off in milliseconds here, not seconds.
        client = web_client(BOT_TOKEN, fake.api_url, server_error_backoff_s=0.005)
        # process_before_response: the HTTP answer comes once the listener (ack, then its one
        # call) has finished, so a test reads the outcome without polling. Production acks first.
        slack = build_slack_app(container, queue, client=client, github=github, process_before_response=True)
        runs.add_listener(slack.notifier)
        bot = TestServer(
            create_web_app(ping=store.ping, slack=slack.bolt, slack_signing_secret=slack.signing_secret),
            host="127.0.0.1",
        )
        await bot.start_server()
        cleanups.append(bot.close)
        http = aiohttp.ClientSession()
        cleanups.append(http.close)
        checks = RepoChecks(load_command_policy(), store, git_base_url=f"file://{tmp_path / 'git'}")
        worker = build_worker(
            queue,
            runs,
            progress=slack.notifier.sync_progress,
            dequeue_timeout_s=0.05,
            repo_checks=checks,
            verify_reporter=SlackVerifyReporter(client),
        )

        async def run_queue() -> int:
            return await drain(worker)

        return Harness(fake, bot, store, runs, queue, slack, RedisCardStore(redis_client), http, run_queue)

    yield make
    for cleanup in reversed(cleanups):
        await cleanup()


@pytest.fixture
async def harness(make_harness: HarnessFactory) -> Harness:
    return await make_harness()
