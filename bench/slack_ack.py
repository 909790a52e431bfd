"""Ack latency of `/pass plan` under load, beside a bare Bolt app that only acks, in the same run.

N concurrent signed slash commands (default 200) go to each app's real HTTP port; the time from
sending a request to its HTTP answer is the ack latency Slack sees (it gives up at 3 s). PASS acks
first and does its work (PRD parse, run in Redis, card post, enqueue) after the ack, in the same
event loop, so that work competing with later acks is part of what is measured.

Real parts: an embedded redis-server, the saq queue, Bolt's signature check, aiohttp on loopback.
Slack's Web API is the tests' fake (tests/slack/fake_slack.py), in its own thread and event loop.

Run: PYTHONPATH=. python bench/slack_ack.py [N]     (prints figures; asserts nothing)
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiohttp
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.adapters.queue import SaqJobQueue
from bot.adapters.redis_server import connect
from bot.adapters.redis_store import RedisRunStore
from bot.bootstrap import Container
from bot.entrypoints.startup import settle
from bot.entrypoints.web.app import create_web_app, slack_events_handler
from bot.logging import configure_logging
from bot.planner.heuristic import HeuristicPlanner
from bot.policies import Policies
from bot.services.dry_run import DryRunSyncer
from bot.services.runs import RunService
from bot.settings import Settings
from bot.slack.app import build_slack_app
from bot.slack.client import web_client
from tests.slack import slack_requests as sr
from tests.slack.fake_slack import BOT_TOKEN, FakeSlack

ROUNDS = 5
PRD = (
    Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "prd" / "02_taskmaster_test_prd_tiny.md"
).read_text()


class FakeSlackThread:
    """The fake Web API on its own loop, so its work does not sit in the bot's event loop."""

    def __init__(self) -> None:
        self.fake = FakeSlack()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.fake.start())
        self.ready.set()
        self.loop.run_forever()

    def start(self) -> FakeSlack:
        self.thread.start()
        self.ready.wait(10)
        return self.fake

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    # A listen backlog above N: otherwise the kernel drops SYNs and the client retries after 1 s,
    # which measures the socket queue, not the app.
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/slack/events"


async def fire(url: str, n: int, fake: FakeSlack) -> list[float]:
    bodies = [
        sr.slash_command(f"plan {PRD}", user="UBENCH", channel="CBENCH", response_url=fake.response_url("b"))
        for _ in range(n)
    ]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one(body: str) -> float:
            headers = sr.signed_headers(body, "application/x-www-form-urlencoded")
            start = time.perf_counter()
            async with http.post(url, data=body.encode(), headers=headers) as response:
                await response.read()
                assert response.status == 200, response.status
            return time.perf_counter() - start

        return list(await asyncio.gather(*(one(b) for b in bodies)))


def summary(label: str, latencies: list[float]) -> str:
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"{label:<34} p50 {statistics.median(ms):7.1f} ms   p99 {p99:7.1f} ms   max {ms[-1]:7.1f} ms"


async def main(n: int) -> None:
    configure_logging("error", "json")
    slack_thread = FakeSlackThread()
    fake = slack_thread.start()
    with tempfile.TemporaryDirectory() as tmp:
        redis = connect(None, Path(tmp) / "data")
        await redis.client.flushdb()
        settings = Settings(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=sr.SIGNING_SECRET,
            slack_api_url=fake.api_url,
            data_dir=Path(tmp) / "data",
            policy_dir=Path(tmp) / "none",
        )
        store = RedisRunStore(redis.client)
        syncer = DryRunSyncer(Path(tmp) / "runs", reason="bench")
        runs = RunService(store, HeuristicPlanner(), syncer, Policies())
        container = Container(
            settings=settings,
            policies=runs.policies,
            redis=redis,
            store=store,
            planner=runs.planner,
            syncer=syncer,
            runs=runs,
        )
        queue = SaqJobQueue.on(redis.client)
        await queue.connect()
        slack = build_slack_app(container, queue, client=web_client(BOT_TOKEN, fake.api_url))
        runs.add_listener(slack.notifier)
        pass_runner, pass_url = await serve(
            create_web_app(ping=store.ping, slack=slack.bolt, slack_signing_secret=slack.signing_secret)
        )

        bare = AsyncApp(client=web_client(BOT_TOKEN, fake.api_url), signing_secret=sr.SIGNING_SECRET)

        @bare.command("/pass")
        async def ack_only(ack: AsyncAck) -> None:
            await ack()

        bare_app = web.Application()
        bare_app.router.add_post("/slack/events", slack_events_handler(bare, sr.SIGNING_SECRET))
        bare_runner, bare_url = await serve(bare_app)

        settle()  # as `passbot serve` does once it is built (bot/entrypoints/startup.py)
        # Warm up both (Bolt's one auth.test call, connection set-up).
        await fire(bare_url, 2, fake)
        await fire(pass_url, 2, fake)
        await asyncio.sleep(0.5)

        print(f"{n} concurrent signed `/pass plan` requests per round, same process, same loop\n")
        warm_bare: list[float] = []
        warm_pass: list[float] = []
        for round_no in range(1, ROUNDS + 1):
            bare_lat = await fire(bare_url, n, fake)
            posted_before = len(fake.of("chat.postMessage"))
            started = time.perf_counter()
            pass_lat = await fire(pass_url, n, fake)
            # Let PASS's after-ack work finish before the next round (cards posted for every run).
            # (ASYNC110 is silenced: the fake lives in another thread; polling its record is the simple way.)
            while len(fake.of("chat.postMessage")) < posted_before + n and time.perf_counter() - started < 60:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            settled = time.perf_counter() - started
            print(f"round {round_no}")
            print("  " + summary("bare Bolt app (ack only)", bare_lat))
            print("  " + summary("PASS /pass plan", pass_lat))
            ratio = sorted(pass_lat)[int(n * 0.99) - 1] / sorted(bare_lat)[int(n * 0.99) - 1]
            print(f"  p99 ratio PASS / bare: {ratio:.2f}x   (Slack's limit: 3000 ms)")
            print(f"  all {n} runs stored, carded and queued {settled:.2f} s after the first request")
            if round_no > 1:  # round 1 includes opening the Redis connection pool
                warm_bare += bare_lat
                warm_pass += pass_lat
        print(f"\nwarm rounds 2-{ROUNDS} together ({len(warm_pass)} requests each)")
        print("  " + summary("bare Bolt app (ack only)", warm_bare))
        print("  " + summary("PASS /pass plan", warm_pass))
        print(f"\nruns in Redis: {len(await store.list_runs(limit=10_000))}, jobs queued: {await queue.pending()}")

        await pass_runner.cleanup()
        await bare_runner.cleanup()
        await queue.close()
        await redis.close()
    slack_thread.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
