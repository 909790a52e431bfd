"""`passbot serve`: the Slack app (Socket Mode or HTTP), webhooks, the API, /healthz and /metrics.

Socket Mode when SLACK_APP_TOKEN is set (no public URL needed; /healthz and the webhooks are still
served on PASS_HTTP_PORT), else Slack's requests arrive over HTTP at POST /slack/events. Without
SLACK_BOT_TOKEN Slack is off and the rest still runs. Long work goes to the queue: run
`passbot worker` beside it (any number, any host, one Redis).
"""

from __future__ import annotations

import asyncio
import signal

from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

from bot.adapters.api_tokens import ApiTokenStore
from bot.adapters.github_files import GitHubFileFetcher
from bot.adapters.queue import SaqJobQueue
from bot.bootstrap import Container
from bot.entrypoints.startup import settle
from bot.entrypoints.web.app import create_web_app
from bot.entrypoints.web.intake import IntakeDeps
from bot.entrypoints.web.metrics import metrics_handler
from bot.logging import get_logger
from bot.slack.app import build_slack_app
from bot.slack.client import build_web_client

log = get_logger(__name__)


def intake_deps(container: Container, queue: SaqJobQueue) -> IntakeDeps:
    settings = container.settings
    secret = settings.github_webhook_secret
    return IntakeDeps(
        runs=container.runs,
        tokens=ApiTokenStore(container.store.client),
        enqueue_execute=queue.enqueue_execute,
        webhook_secrets=settings.webhook_secrets(),
        github_webhook_secret=secret.get_secret_value() if secret else None,
        prd_fetcher=GitHubFileFetcher.from_settings(settings),
    )


async def serve(container: Container, *, host: str = "0.0.0.0", port: int | None = None) -> None:  # noqa: S104
    settings = container.settings
    port = port if port is not None else settings.http_port
    queue = SaqJobQueue.on(container.store.client)
    await queue.connect()
    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else ""
    client = build_web_client(settings)
    slack = None
    if client is not None:
        slack = build_slack_app(container, queue, client=client, socket_mode=bool(app_token))
        container.runs.add_listener(slack.notifier)
    else:
        log.warning("serve.slack_off", reason="SLACK_BOT_TOKEN is not set")
    http_slack = slack if slack is not None and not app_token else None
    web_app = create_web_app(
        ping=container.store.ping,
        slack=http_slack.bolt if http_slack else None,
        slack_signing_secret=http_slack.signing_secret if http_slack else "",
        intake=intake_deps(container, queue),
    )
    web_app.router.add_get("/metrics", metrics_handler(container.store, queue.pending))
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    settle()
    await web.TCPSite(runner, host, port).start()
    socket_handler = None
    if slack is not None and app_token:
        socket_handler = AsyncSocketModeHandler(slack.bolt, app_token)
        await socket_handler.connect_async()  # type: ignore[no-untyped-call]
    mode = "socket mode" if socket_handler else ("http" if http_slack else "off")
    log.info("serve.started", port=port, slack=mode)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    watching = asyncio.create_task(container.redis.keep_alive(stop))
    try:
        await stop.wait()
    finally:
        log.info("serve.stopping")
        await watching
        if socket_handler is not None:
            await socket_handler.close_async()  # type: ignore[no-untyped-call]
        await runner.cleanup()
        await queue.close()
