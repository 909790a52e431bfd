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
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.slack.request_body import parse_slack_body
from bot.web.intake import MAX_BODY_BYTES, IntakeDeps, build_intake_routes, intake_errors

SLACK_EVENTS_PATH = "/slack/events"

Ping = Callable[[], Awaitable[bool]]


async def to_bolt_request(request: web.Request) -> AsyncBoltRequest:
    """Bolt's aiohttp adapter (slack_bolt.adapter.aiohttp.to_bolt_request) with the body parsed
    by its form fields (bot/slack/request_body.py): a slash command that mentions "payload" is
    still a slash command. The raw body is kept as received, so Bolt checks the signature over
    exactly the bytes Slack signed."""
    raw = await request.text()
    bolt_request = AsyncBoltRequest(body=raw, query=request.query_string, headers=dict(request.headers))
    body = parse_slack_body(raw, bolt_request.content_type)
    if body != bolt_request.body:
        # Bolt derives the context (team, user, channel, response_url) from the body in its
        # constructor; a request built from the parsed dict gives the same context, through
        # Bolt's public constructor rather than its internals.
        parsed = AsyncBoltRequest(body=body, headers=dict(request.headers), mode="socket_mode")
        bolt_request.body = parsed.body
        bolt_request.context = parsed.context
    return bolt_request


def slack_events_handler(bolt: AsyncApp) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Slack's HTTP requests into Bolt: raw body and headers in, Bolt's answer out."""

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
