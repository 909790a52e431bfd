"""Triggers beside Slack: signed webhooks and the bearer-token REST API.

    POST /hooks/prd      PASS-signed JSON {"prd", "channel", "requester", "repo"} → 202 {"run_id"}
    POST /hooks/github   GitHub push event (X-Hub-Signature-256); PRD files in it start plans
    POST /api/runs       same JSON as /hooks/prd, `Authorization: Bearer` with runs:write
    GET  /api/runs/{id}  the run object, with runs:read

Each handler verifies, parses into a model and starts the run (`bot.services.intake.start_run`:
a redelivery with the same idempotency key returns the first run); nothing slow happens before
the answer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.adapters.api_tokens import ApiTokenStore
from bot.domain.models import Source
from bot.domain.signatures import verify_github, verify_pass
from bot.domain.triggers import prd_paths_in_push
from bot.errors import BadInput, RunNotFound, StoreUnavailable, UpstreamUnavailable
from bot.logging import get_logger
from bot.services.intake import EnqueueExecute, start_run
from bot.services.runs import RunService

log = get_logger(__name__)

MAX_BODY_BYTES = 512 * 1024


class PrdFetcher(Protocol):
    """Reads a file from a repository at a commit (GitHub contents API)."""

    async def fetch(self, repo: str, path: str, ref: str) -> bytes: ...


class PrdRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prd: str = Field(min_length=1)
    channel: str | None = None
    requester: str = Field(min_length=1)
    repo: str | None = Field(default=None, pattern=r"^[\w.-]+/[\w.-]+$")


@dataclass
class IntakeDeps:
    runs: RunService
    tokens: ApiTokenStore
    enqueue_execute: EnqueueExecute
    # Secrets by source name; the default source ("default") is PASS_WEBHOOK_SECRET.
    webhook_secrets: dict[str, str] = field(default_factory=dict)
    github_webhook_secret: str | None = None
    prd_fetcher: PrdFetcher | None = None
    clock: Callable[[], float] = time.time


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


def _parse(body: bytes) -> PrdRequest:
    try:
        return PrdRequest.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise BadInput(f"{where}: {first['msg']}") from exc


async def _start(
    deps: IntakeDeps,
    req: PrdRequest,
    source: Source,
    dedupe: str | tuple[str, ...] | None,
    *,
    token: str | None = None,
) -> web.Response:
    """`token`: the API token's name. Its run is requested by the token; the `requester` the
    caller named is only claimed, and is recorded as "on behalf of"."""
    run, created = await start_run(
        deps.runs,
        deps.enqueue_execute,
        req.prd.encode(),
        source=source,
        requester=f"api:{token}" if token else req.requester,
        on_behalf_of=req.requester if token else None,
        channel=req.channel,
        repo=req.repo,
        dedupe=dedupe,
    )
    log.info("intake.accepted", run_id=run.run_id, source=source.value, created=created)
    return web.json_response({"run_id": run.run_id, "created": created, "status": run.status.value}, status=202)


def build_intake_routes(deps: IntakeDeps) -> web.RouteTableDef:
    routes = web.RouteTableDef()

    @routes.post("/hooks/prd")
    async def prd_hook(request: web.Request) -> web.Response:
        body = await request.read()
        source = request.headers.get("X-Pass-Source", "default")
        secret = deps.webhook_secrets.get(source)
        if not secret:
            return _error(
                503 if source == "default" else 401,
                "webhooks are not configured: set PASS_WEBHOOK_SECRET"
                if source == "default"
                else f"unknown webhook source {source!r}",
            )
        check = verify_pass(
            secret,
            request.headers.get("X-Pass-Timestamp"),
            request.headers.get("X-Pass-Signature"),
            body,
            deps.clock(),
        )
        if not check.ok:
            return _error(401, check.reason)
        req = _parse(body)
        # The signature names this exact request (timestamp and body): the same signed request
        # sent again inside the 5-minute window starts nothing, with or without a key (which is
        # not signed, so a replay could add one). The key catches a redelivery signed afresh.
        signature = str(request.headers.get("X-Pass-Signature"))
        keys = [f"hook:{source}:signature:{signature}"]
        key = request.headers.get("Idempotency-Key") or request.headers.get("X-GitHub-Delivery")
        if key:
            keys.append(f"hook:{source}:{key}")
        return await _start(deps, req, Source.WEBHOOK, tuple(keys))

    @routes.post("/hooks/github")
    async def github_hook(request: web.Request) -> web.Response:
        body = await request.read()
        if not deps.github_webhook_secret:
            return _error(503, "GitHub webhooks are not configured: set PASS_GITHUB_WEBHOOK_SECRET")
        check = verify_github(deps.github_webhook_secret, request.headers.get("X-Hub-Signature-256"), body)
        if not check.ok:
            return _error(401, check.reason)
        event_name = request.headers.get("X-GitHub-Event", "")
        if event_name == "ping":
            return web.json_response({"ok": True, "pong": True})
        if event_name != "push":
            return web.json_response({"ignored": f"event {event_name!r} is not a push"}, status=202)
        try:
            event = json.loads(body)
            repo = event["repository"]["full_name"]
            ref = event["after"]
        except (ValueError, KeyError, TypeError) as exc:
            raise BadInput("not a GitHub push event: needs repository.full_name and after") from exc
        trigger = deps.runs.policies.triggers.github
        paths = prd_paths_in_push(event, trigger.prd_paths)
        if not paths:
            return web.json_response({"runs": [], "ignored": "no PRD file in this push"}, status=202)
        if deps.prd_fetcher is None:
            return _error(422, "a PRD changed but GITHUB_TOKEN is not set, so PASS cannot read it", paths=paths)
        delivery = request.headers.get("X-GitHub-Delivery")
        started = []
        for path in paths:
            raw = await deps.prd_fetcher.fetch(repo, path, ref)
            run, created = await start_run(
                deps.runs,
                deps.enqueue_execute,
                raw,
                source=Source.GITHUB,
                requester=trigger.requester,
                channel=trigger.channel,
                repo=repo,
                dedupe=f"github:{delivery}:{path}" if delivery else f"github:{repo}:{ref}:{path}",
            )
            started.append({"path": path, "run_id": run.run_id, "created": created})
        return web.json_response({"runs": started}, status=202)

    async def _authorise(request: web.Request, scope: str) -> web.Response | str:
        """The token's name when it carries `scope`; otherwise the refusal to send."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return _error(401, "missing bearer token: Authorization: Bearer <token> (passbot token create)")
        token = await deps.tokens.lookup(header.removeprefix("Bearer ").strip())
        if token is None:
            return _error(401, "unknown or revoked token")
        if scope not in token.scopes:
            return _error(403, f"token {token.name!r} lacks the {scope} scope", scopes=sorted(token.scopes))
        return token.name

    @routes.post("/api/runs")
    async def create_run(request: web.Request) -> web.Response:
        caller = await _authorise(request, "runs:write")
        if isinstance(caller, web.Response):
            return caller
        req = _parse(await request.read())
        key = request.headers.get("Idempotency-Key")
        # Scoped to the token: two clients choosing the same key must not see each other's run.
        return await _start(deps, req, Source.API, f"api:{caller}:{key}" if key else None, token=caller)

    @routes.get("/api/runs/{run_id}")
    async def get_run(request: web.Request) -> web.Response:
        caller = await _authorise(request, "runs:read")
        if isinstance(caller, web.Response):
            return caller
        run = await deps.runs.store.get(request.match_info["run_id"])
        return web.json_response(run.contract())

    return routes


@web.middleware
async def intake_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Typed errors become clear statuses; Redis down fails closed with 503."""
    try:
        return await handler(request)
    except BadInput as exc:
        return _error(400, str(exc))
    except RunNotFound as exc:
        return _error(404, str(exc))
    except UpstreamUnavailable as exc:
        return _error(502, f"{exc}; nothing was started, try again shortly")
    except (StoreUnavailable, RedisConnectionError, RedisTimeoutError):
        # Raw Redis errors come from the queue and the token store, which talk to Redis directly.
        return _error(503, "PASS cannot reach Redis right now; nothing was started. Try again shortly.")
    except web.HTTPRequestEntityTooLarge:
        return _error(413, f"request body over {MAX_BODY_BYTES:,} bytes")


def build_intake_app(deps: IntakeDeps) -> web.Application:
    """A stand-alone app with only the intake routes (the serve app mounts the same routes)."""
    app = web.Application(middlewares=[intake_errors], client_max_size=MAX_BODY_BYTES)
    app.add_routes(build_intake_routes(deps))
    return app
