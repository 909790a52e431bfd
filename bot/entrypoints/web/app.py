"""The HTTP surface of `passbot serve`, as an aiohttp app factory.

    POST /slack/events   slash commands, interactivity and events (signature checked first, then Bolt)
    GET  /healthz        200 when Redis answers, 503 otherwise
    + the intake routes (bot/entrypoints/web/intake.py: /hooks/prd, /hooks/github, /api/runs) when given

More routes (metrics …) are added with `app.add_routes(...)` on the returned app.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.entrypoints.web.intake import MAX_BODY_BYTES, IntakeDeps, build_intake_routes, intake_errors
from bot.slack.request_body import parse_slack_body

SLACK_EVENTS_PATH = "/slack/events"

Ping = Callable[[], Awaitable[bool]]


def to_bolt_request(raw: str, query: str, headers: dict[str, str | Sequence[str]]) -> AsyncBoltRequest:
    """Bolt's aiohttp adapter (slack_bolt.adapter.aiohttp.to_bolt_request) with the body parsed
    by its form fields (bot/slack/request_body.py): a slash command that mentions "payload" is
    still a slash command. The raw body is kept as received, so Bolt checks the signature over
    exactly the bytes Slack signed."""
    bolt_request = AsyncBoltRequest(body=raw, query=query, headers=headers)
    body = parse_slack_body(raw, bolt_request.content_type)
    if body != bolt_request.body:
        # Bolt derives the context (team, user, channel, response_url) from the body in its
        # constructor; a request built from the parsed dict gives the same context, through
        # Bolt's public constructor rather than its internals.
        parsed = AsyncBoltRequest(body=body, headers=headers, mode="socket_mode")
        bolt_request.body = parsed.body
        bolt_request.context = parsed.context
    return bolt_request


def slack_events_handler(bolt: AsyncApp, signing_secret: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Bolt behind a signature check on the raw bytes. Bolt parses the body (form, then JSON, as
    text) before its own check, so an unsigned body that is not UTF-8, or a `payload=` that is
    not JSON, raised there: a 500 and a traceback for anyone. Here nothing unsigned is parsed."""
    verifier = SignatureVerifier(signing_secret)

    async def handle(request: web.Request) -> web.Response:
        raw = await request.read()
        if not verifier.is_valid_request(raw, request.headers):
            return web.Response(status=401, text="invalid request signature")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return web.Response(status=400, text="the body is not UTF-8")
        headers: dict[str, str | Sequence[str]] = {k: list(request.headers.getall(k)) for k in request.headers}
        bolt_request = to_bolt_request(text, request.query_string, headers)
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
    *,
    ping: Ping,
    slack: AsyncApp | None = None,
    slack_signing_secret: str = "",
    intake: IntakeDeps | None = None,
    health_timeout_s: float = 2.0,
) -> web.Application:
    app = web.Application(middlewares=[intake_errors] if intake else [], client_max_size=MAX_BODY_BYTES)
    app.router.add_get("/healthz", healthz_handler(ping, health_timeout_s))
    if slack is not None:
        app.router.add_post(SLACK_EVENTS_PATH, slack_events_handler(slack, slack_signing_secret))
    if intake is not None:
        app.add_routes(build_intake_routes(intake))
    return app
