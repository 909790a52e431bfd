"""`passbot dev`: the whole Slack flow on loopback, in one process.

    stack = await DevStack.start(settings, port=3100)    # stack.url: the page to open
    ...
    await stack.close()

What starts, in order: the stand-in for Slack (its Web API and the page, on `port`); an embedded
redis-server of its own (under PASS_DATA_DIR/dev, emptied at start: the stand-in's messages live
in memory, so older runs would point at cards that no longer exist); the real Bolt app in HTTP
mode on its own loopback port, built by `build_slack_app` exactly as `passbot serve` builds it,
with a generated bot token and signing secret; and a saq worker in this process, as
`passbot worker` runs it. GitHub sync is a dry run unless GITHUB_TOKEN is set; the planner is the
heuristic one unless OPENAI_API_KEY is set, as everywhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from aiohttp import web
from pydantic import SecretStr

from bot.adapters.queue import SaqJobQueue
from bot.adapters.redis_server import EmbeddedRedis
from bot.bootstrap import Container, build, build_command_policy
from bot.entrypoints.dev.bot_link import BotLink
from bot.entrypoints.dev.loopback import loopback_only
from bot.entrypoints.dev.page import Page, describe_policy
from bot.entrypoints.dev.slack_api import SlackApi
from bot.entrypoints.dev.workspace import Workspace
from bot.entrypoints.web.app import SLACK_EVENTS_PATH, create_web_app
from bot.entrypoints.web.server import intake_deps
from bot.entrypoints.worker import build_worker
from bot.errors import ConfigError
from bot.logging import get_logger
from bot.policies import Policies, load_policies
from bot.services.repo_checks import RepoChecks
from bot.settings import Settings
from bot.slack.actions import ShortcutId
from bot.slack.app import build_slack_app
from bot.slack.client import web_client
from bot.slack.verify_reporter import SlackVerifyReporter

log = get_logger(__name__)

DEFAULT_PORT = 3100
DEV_POLICY_DIR = Path(__file__).parent / "policies"
Approvals = Literal["dev", "policy"]


def dev_policies(settings: Settings, approvals: Approvals) -> tuple[Policies, str]:
    """PASS_POLICY_DIR's policies, with the dev workspace's approval rule unless asked otherwise."""
    policies = load_policies(settings.policy_dir)
    if approvals == "policy":
        return policies, str(settings.policy_dir / "approvals.yml")
    dev = load_policies(DEV_POLICY_DIR).approvals
    own = "passbot dev's own (bot/entrypoints/dev/policies/approvals.yml)"
    return policies.model_copy(update={"approvals": dev}), own


def dev_settings(settings: Settings, *, api_url: str, bot_token: str, signing_secret: str) -> Settings:
    return settings.model_copy(
        update={
            "slack_bot_token": SecretStr(bot_token),
            "slack_signing_secret": SecretStr(signing_secret),
            "slack_app_token": None,
            "slack_api_url": api_url,
            # Never a shared Redis: a real worker there would take dev jobs and post to real Slack.
            "redis_url": None,
            "data_dir": settings.data_dir / "dev",
        }
    )


async def _serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1]
    return runner, int(bound)


@dataclass
class DevStack:
    url: str
    bot_url: str
    workspace: Workspace
    container: Container
    _exit: contextlib.AsyncExitStack

    @classmethod
    async def start(
        cls,
        settings: Settings,
        *,
        port: int = DEFAULT_PORT,
        host: str = "127.0.0.1",
        approvals: Approvals = "dev",
    ) -> DevStack:
        data_dir = settings.data_dir / "dev"
        if EmbeddedRedis.for_dir(data_dir).running():
            raise ConfigError(f"another `passbot dev` is running on {data_dir}; stop it, or set PASS_DATA_DIR")
        policies, policy_source = dev_policies(settings, approvals)
        exit_stack = contextlib.AsyncExitStack()
        try:
            return await cls._start(settings, exit_stack, host, port, policies, policy_source)
        except BaseException:
            await exit_stack.aclose()
            raise

    @classmethod
    async def _start(
        cls,
        settings: Settings,
        exit_stack: contextlib.AsyncExitStack,
        host: str,
        port: int,
        policies: Policies,
        policy_source: str,
    ) -> DevStack:
        bot_token = f"xoxb-dev-{secrets.token_hex(12)}"
        signing_secret = secrets.token_hex(16)
        ws = Workspace()
        exit_stack.callback(ws.close)  # wakes the page's long polls, so shutdown is prompt
        standin_url = ""

        def base_url() -> str:
            return standin_url

        api = SlackApi(ws, bot_token=bot_token, base_url=base_url)
        link = BotLink(ws, signing_secret=signing_secret, base_url=base_url)
        page = Page(ws, link, info={})
        standin = web.Application(client_max_size=4 * 1024 * 1024, middlewares=[loopback_only])
        standin.add_routes(api.routes() + page.routes())
        try:
            standin_runner, standin_port = await _serve(standin, host, port)
        except OSError as exc:
            reason = f"cannot listen on {host}:{port} ({exc.strerror})"
            raise ConfigError(f"{reason}; try --port N (0: any free port)") from exc
        exit_stack.push_async_callback(standin_runner.cleanup)
        standin_url = f"http://{host}:{standin_port}"

        settings = dev_settings(
            settings, api_url=f"{standin_url}/api/", bot_token=bot_token, signing_secret=signing_secret
        )
        container = build(settings, policies=policies)
        exit_stack.push_async_callback(container.close)
        await container.store.client.flushdb()

        queue = SaqJobQueue.on(container.store.client)
        await queue.connect()
        exit_stack.push_async_callback(queue.close)
        client = web_client(bot_token, settings.slack_api_url)
        slack = build_slack_app(container, queue, client=client)
        container.runs.add_listener(slack.notifier)
        bot_app = create_web_app(
            ping=container.store.ping,
            slack=slack.bolt,
            slack_signing_secret=slack.signing_secret,
            intake=intake_deps(container, queue),
        )
        bot_runner, bot_port = await _serve(bot_app, host, 0)
        exit_stack.push_async_callback(bot_runner.cleanup)
        bot_url = f"http://{host}:{bot_port}"
        await link.start(f"{bot_url}{SLACK_EVENTS_PATH}")
        exit_stack.push_async_callback(link.close)

        # As `passbot worker` builds it: `/pass verify` runs the checks here and answers on the page.
        worker = build_worker(
            queue,
            container.runs,
            progress=slack.notifier.sync_progress,
            repo_checks=RepoChecks.from_settings(settings, build_command_policy(settings), container.store),
            verify_reporter=SlackVerifyReporter(client),
        )
        # saq's start() installs its own SIGINT/SIGTERM handlers; here the runner owns the signals.
        worker.SIGNALS = []
        task = asyncio.create_task(worker.start())
        exit_stack.push_async_callback(_stop_worker, worker, task)

        page.info.update(_info(container, policy_source, ws))
        log.info("dev.started", url=standin_url, bot=bot_url, data_dir=str(settings.data_dir))
        return cls(url=f"{standin_url}/", bot_url=bot_url, workspace=ws, container=container, _exit=exit_stack)

    async def close(self) -> None:
        await self._exit.aclose()


async def _stop_worker(worker: Any, task: asyncio.Task[None]) -> None:
    await worker.stop()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _info(container: Container, policy_source: str, ws: Workspace) -> dict[str, Any]:
    syncer = container.syncer
    repo = container.settings.github_repo
    if syncer.target_kind == "dry-run":
        sync = "dry run: nothing is written to GitHub (set GITHUB_TOKEN and PASS_GITHUB_REPO to sync)"
    else:
        sync = f"GitHub: issues are created in {repo or 'the repo= of each /pass plan'}"
    return {
        "policy": describe_policy(container.policies.approvals, ws, policy_source),
        "sync": sync,
        "planner": container.planner.name,
        # The app's message shortcuts (manifest.yml), offered in each message's "More actions" menu.
        "shortcuts": [{"name": "Plan with PASS", "callback_id": ShortcutId.PLAN_WITH_PASS.value}],
    }


async def run_dev(
    settings: Settings,
    *,
    port: int = DEFAULT_PORT,
    approvals: Approvals = "dev",
    announce: Callable[[str], None] = print,
) -> None:
    """Until SIGINT/SIGTERM. `announce` gets the one line that says what to open."""
    stack = await DevStack.start(settings, port=port, approvals=approvals)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        announce(f"passbot dev: open {stack.url} (a local Slack with alice, bob and mallory; Ctrl-C stops)")
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await stack.close()
