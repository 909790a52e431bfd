"""The HTTP surface of `passbot serve`, as an aiohttp app factory.

    POST /slack/events   slash commands, interactivity and events (Bolt verifies the signature)
    GET  /healthz        200 when Redis answers, 503 otherwise
    + the intake routes (bot/web/intake.py: /hooks/prd, /hooks/github, /api/runs) when given

More routes (metrics …) are added with `app.add_routes(...)` on the returned app.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot.web.intake import MAX_BODY_BYTES, IntakeDeps, build_intake_routes, intake_errors

SLACK_EVENTS_PATH = "/slack/events"

Ping = Callable[[], Awaitable[bool]]


def slack_events_handler(bolt: AsyncApp) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Bolt's own aiohttp adapter (slack_bolt.adapter.aiohttp): raw body and headers in, so the
    signature is checked over exactly the bytes Slack signed."""

    async def handle(request: web.Request) -> web.Response:
        bolt_request = await to_bolt_request(request)
        bolt_response = await bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    return handle


def healthz_handler(ping: Ping, timeout_s: float) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def healthz(request: web.Request) -> web.Response:
        # The client's own reconnect retries can take many seconds; a health check answers now.
        try:
            up = await asyncio.wait_for(ping(), timeout_s)
        except TimeoutError:
            up = False
        if up:
            return web.json_response({"ok": True, "redis": "up"})
        return web.json_response({"ok": False, "redis": "down"}, status=503)

    return healthz


def create_web_app(
    *, ping: Ping, slack: AsyncApp | None = None, intake: IntakeDeps | None = None, health_timeout_s: float = 2.0
) -> web.Application:
    app = web.Application(middlewares=[intake_errors] if intake else [], client_max_size=MAX_BODY_BYTES)
    app.router.add_get("/healthz", healthz_handler(ping, health_timeout_s))
    if slack is not None:
        app.router.add_post(SLACK_EVENTS_PATH, slack_events_handler(slack))
    if intake is not None:
        app.add_routes(build_intake_routes(intake))
    return app
