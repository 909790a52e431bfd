"""The page: plain HTML, JS and CSS from this package (no build step), and the small JSON routes
it calls. The page plays the Slack client: it shows a person's view of the workspace and turns
their typing and clicks into requests that `BotLink` signs and sends to the bot.

    GET  /                       the page
    GET  /static/{app.js,style.css}
    GET  /dev/state?user=U&after=N   the person's snapshot, long-polled (answers when it changes)
    GET  /dev/calls              every Web API call PASS made, with its parameters
    POST /dev/send   {user, text, thread_ts?}          composer: "/pass …" or a message
    POST /dev/click  {user, ts, action_id}             a button (after its confirm dialog)
    POST /dev/submit {user, view_id, values}           a modal's submit
    POST /dev/close  {user, view_id}                   a modal's cancel
    POST /dev/dismiss {user, ts}                       hide an ephemeral message
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from bot.entrypoints.dev.bot_link import BotLink
from bot.entrypoints.dev.workspace import SlackError, Workspace
from bot.policies import ApprovalPolicy, ApprovalRule

STATIC = {"index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css"}
LONG_POLL_S = 20.0
MAX_TEXT = 200_000

Action = Callable[[dict[str, Any]], Awaitable[None]]


def load_static() -> dict[str, bytes]:
    folder = resources.files("bot.entrypoints.dev") / "static"
    return {name: (folder / name).read_bytes() for name in STATIC}


def describe_rule(rule: ApprovalRule, ws: Workspace) -> str:
    """The approval rule in words, with the dev workspace's names for its ids."""
    names = {u.id: f"@{u.name}" for u in ws.users.values()}
    who: list[str] = []
    if "*" in rule.allow_users:
        who.append("anyone in the workspace")
    else:
        who += [names.get(u, u) for u in rule.allow_users]
    for group_id in rule.allow_groups:
        group = ws.groups.get(group_id)
        if group is None:
            who.append(group_id)
        else:
            members = ", ".join(names.get(m, m) for m in group.members)
            who.append(f"members of @{group.handle} ({members})")
    allowed = " and ".join(who) if who else "nobody"
    requester = "the requester too" if rule.allow_requester else "never the requester"
    count = f"{rule.min_approvals} approval{'s' if rule.min_approvals > 1 else ''} needed"
    return f"{allowed} may approve; {requester}; {count}."


def describe_policy(policy: ApprovalPolicy, ws: Workspace, source: str) -> dict[str, Any]:
    overrides = len(policy.channels) + len(policy.repos)
    text = describe_rule(policy.default, ws)
    if overrides:
        text += f" ({overrides} channel/repo override(s) in the file.)"
    return {"source": source, "text": text}


class Page:
    def __init__(self, ws: Workspace, link: BotLink, *, info: dict[str, Any]) -> None:
        self.ws = ws
        self.link = link
        # Shown in the sidebar: the approval policy, where issues go, the planner.
        self.info = info
        self.static = load_static()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self._index),
            web.get("/static/{name}", self._static),
            web.get("/dev/state", self._state),
            web.get("/dev/calls", self._calls),
            web.post("/dev/send", self._action(self._send)),
            web.post("/dev/click", self._action(self._click)),
            web.post("/dev/submit", self._action(self._submit)),
            web.post("/dev/change", self._action(self._change)),
            web.post("/dev/shortcut", self._action(self._shortcut)),
            web.post("/dev/close", self._action(self._close)),
            web.post("/dev/dismiss", self._action(self._dismiss)),
        ]

    async def _index(self, request: web.Request) -> web.Response:
        return self._file("index.html")

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC or name == "index.html":
            raise web.HTTPNotFound()
        return self._file(name)

    def _file(self, name: str) -> web.Response:
        return web.Response(
            body=self.static[name],
            content_type=STATIC[name],
            charset="utf-8",
            headers={"Cache-Control": "no-store"},
        )

    async def _state(self, request: web.Request) -> web.Response:
        user = request.query.get("user", "")
        if user not in self.ws.users:
            raise web.HTTPBadRequest(text="unknown user")
        try:
            after = int(request.query.get("after", "0"))
        except ValueError:
            after = 0
        await self.ws.wait(after, LONG_POLL_S)
        return web.json_response({**self.ws.snapshot(user), "info": self.info, "me": user})

    async def _calls(self, request: web.Request) -> web.Response:
        calls = [{**c.summary(), "params": c.params} for c in self.ws.calls]
        return web.json_response({"total": self.ws.calls_total, "calls": calls})

    def _action(self, act: Action) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            # JSON only: a page on another site cannot send that without a CORS preflight, which
            # this server never grants, so it cannot click Approve for you.
            if request.content_type != "application/json":
                raise web.HTTPUnsupportedMediaType(text="send JSON")
            body = await request.json()
            if not isinstance(body, dict) or body.get("user") not in self.ws.users:
                raise web.HTTPBadRequest(text="unknown user")
            try:
                await act(body)
            except SlackError as exc:
                return web.json_response({"ok": False, "error": exc.code}, status=409)
            return web.json_response({"ok": True})

        return handle

    async def _send(self, body: dict[str, Any]) -> None:
        text = str(body.get("text") or "")[:MAX_TEXT]
        if text.strip():
            await self.link.send(body["user"], text, body.get("thread_ts") or None)

    async def _click(self, body: dict[str, Any]) -> None:
        await self.link.click(body["user"], str(body.get("ts")), str(body.get("action_id")))

    async def _submit(self, body: dict[str, Any]) -> None:
        values = body.get("values")
        await self.link.submit(body["user"], str(body.get("view_id")), values if isinstance(values, dict) else {})

    async def _change(self, body: dict[str, Any]) -> None:
        values = body.get("values")
        await self.link.change(
            body["user"],
            str(body.get("view_id")),
            str(body.get("block_id")),
            values if isinstance(values, dict) else {},
        )

    async def _shortcut(self, body: dict[str, Any]) -> None:
        await self.link.shortcut(body["user"], str(body.get("ts")), str(body.get("callback_id")))

    async def _close(self, body: dict[str, Any]) -> None:
        await self.link.close_view(body["user"], str(body.get("view_id")))

    async def _dismiss(self, body: dict[str, Any]) -> None:
        self.ws.dismiss(body["user"], str(body.get("ts")))
