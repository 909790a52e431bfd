"""A local HTTP server playing Slack's Web API (and response_urls, and file hosting), for every
test that talks to Slack: the Bolt app's, the notifier's, the digest's and the CLI's.

It answers the methods PASS calls the way Slack does (same envelopes, same errors for unknown
messages or bad tokens), reads requests with the dev stand-in's parser (`bot.entrypoints.dev.slack_api`),
records every call, and runs every message and modal it receives through the Block Kit limits
checker: `violations` must stay empty.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.entrypoints.dev.slack_api import read_params
from bot.entrypoints.dev.workspace import SlackError
from bot.slack.limits import Violation, check_message, check_view

BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-test-app-token"  # not token-shaped: a scan of this repo stays quiet
BOT_USER = "UPASSBOT"
TEAM = "T0PASS"

_MESSAGE_METHODS = {"chat.postMessage", "chat.update", "chat.postEphemeral"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]


@dataclass
class Post:
    """A message Slack accepted (chat.postMessage answered ok)."""

    channel: str
    text: str
    blocks: list[dict[str, Any]]

    @property
    def all_text(self) -> str:
        return json.dumps(self.blocks, ensure_ascii=False)


@dataclass
class SharedFile:
    name: str
    content: bytes
    user: str = "UAUTHOR"  # who shared it
    # Where it is shared: channel (C…), private channel (G…) and DM (D…) ids.
    shared_in: tuple[str, ...] = ()


@dataclass
class FakeSlack:
    calls: list[Call] = field(default_factory=list)
    posts: list[Post] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)
    violations: list[tuple[str, Violation]] = field(default_factory=list)
    usergroups: dict[str, list[str]] = field(default_factory=dict)
    shared_files: dict[str, SharedFile] = field(default_factory=dict)
    downloads: list[str] = field(default_factory=list)  # file ids, in download order
    # method -> Slack error code to answer with (e.g. {"views.open": "expired_trigger_id"})
    failing: dict[str, str] = field(default_factory=dict)
    # method -> Slack error codes to answer its next calls with, one a call, then succeed again.
    refuse_next: dict[str, list[str]] = field(default_factory=dict)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # channel -> the error posting there answers, as Slack does: `not_in_channel` where PASS is
    # not a member, `channel_not_found` for one that is gone.
    channel_errors: dict[str, str] = field(default_factory=dict)
    # An outage: every Web API call is answered 503 and counted here, not recorded in `calls`.
    down: bool = False
    refused_while_down: int = 0
    server: TestServer | None = None
    # Socket Mode: the one open WebSocket link to the app, and acks awaited by envelope id.
    socket_link: web.WebSocketResponse | None = None
    socket_linked: asyncio.Event = field(default_factory=asyncio.Event)
    _acks: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, name: str) -> str:
        return f"{self.url}/response/{name}"

    # --- what tests read -----------------------------------------------------------------------

    def of(self, method: str) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.method == method]

    def ephemerals(self) -> list[str]:
        """Every ephemeral text a person was shown (chat.postEphemeral and response_url replies)."""
        texts = [str(p.get("text", "")) for p in self.of("chat.postEphemeral")]
        return texts + [str(r.get("text", "")) for r in self.responses]

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        return [
            p for p in self.of("chat.postMessage") if p.get("channel") == channel and p.get("thread_ts") == thread_ts
        ]

    # --- the server ----------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/files-pri/{file_id}/{name}", self._download)
        app.router.add_post("/response/{name}", self._response_url)
        app.router.add_get("/link", self._socket_mode_link)
        return app

    async def start(self) -> None:
        self.server = TestServer(self.app(), host="127.0.0.1")
        await self.server.start_server()

    async def close(self) -> None:
        if self.socket_link is not None:
            await self.socket_link.close()
        if self.server is not None:
            await self.server.close()

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            params = await read_params(request)
        except SlackError as exc:
            return web.json_response({"ok": False, "error": exc.code})
        if self.down:
            self.refused_while_down += 1
            return web.Response(status=503, text="upstream connect error")
        if method == "apps.connections.open":
            return web.json_response(self._open_socket_mode(request))
        if request.headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        self.calls.append(Call(method, params))
        if method in _MESSAGE_METHODS:
            self.violations += [(method, v) for v in check_message(params)]
        if method == "views.open":
            self.violations += [(method, v) for v in check_view(params.get("view") or {})]
        if method in self.failing:
            return web.json_response({"ok": False, "error": self.failing[method]})
        if self.refuse_next.get(method):
            return web.json_response({"ok": False, "error": self.refuse_next[method].pop(0)})
        if method in _MESSAGE_METHODS and params.get("channel") in self.channel_errors:
            return web.json_response({"ok": False, "error": self.channel_errors[params["channel"]]})
        return web.json_response(self._answer(method, params))

    def _answer(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://pass-test.slack.com/",
                "team": "PASS test",
                "user": "pass",
                "team_id": TEAM,
                "user_id": BOT_USER,
                "bot_id": "BPASS",
            }
        if method == "chat.postMessage":
            ts = self._next_ts()
            self.messages[(p["channel"], ts)] = p
            self.posts.append(Post(channel=p["channel"], text=str(p.get("text", "")), blocks=p.get("blocks") or []))
            return {"ok": True, "channel": p["channel"], "ts": ts, "message": {"text": p.get("text"), "ts": ts}}
        if method == "chat.update":
            key = (p["channel"], p["ts"])
            if key not in self.messages:
                return {"ok": False, "error": "message_not_found"}
            self.messages[key] = p
            return {"ok": True, "channel": p["channel"], "ts": p["ts"], "text": p.get("text")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self._next_ts()}
        if method == "views.open":
            return {"ok": True, "view": {"id": f"V{next(self._ts)}", **p["view"]}}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._ts):08d}"
            return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            files = p.get("files") or []
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}
        if method == "files.info":
            shared = self.shared_files.get(p.get("file", ""))
            if shared is None:
                return {"ok": False, "error": "file_not_found"}
            file_id = p["file"]
            return {
                "ok": True,
                "file": {
                    "id": file_id,
                    "name": shared.name,
                    "size": len(shared.content),
                    "url_private_download": f"{self.url}/files-pri/{file_id}/{shared.name}",
                    "user": shared.user,
                    # As Slack lists them: public channels, private channels, DMs.
                    "channels": [c for c in shared.shared_in if c.startswith("C")],
                    "groups": [c for c in shared.shared_in if c.startswith("G")],
                    "ims": [c for c in shared.shared_in if c.startswith("D")],
                },
            }
        if method == "usergroups.users.list":
            group = p.get("usergroup", "")
            if group not in self.usergroups:
                return {"ok": False, "error": "no_such_subteam"}
            return {"ok": True, "users": self.usergroups[group]}
        return {"ok": False, "error": "unknown_method"}

    # --- Socket Mode (docs.slack.dev "Using Socket Mode") ------------------------------------------

    def _open_socket_mode(self, request: web.Request) -> dict[str, Any]:
        # apps.connections.open takes the app-level token, not the bot token.
        if request.headers.get("Authorization") != f"Bearer {APP_TOKEN}":
            return {"ok": False, "error": "invalid_auth"}
        return {"ok": True, "url": self.url.replace("http://", "ws://") + "/link"}

    async def _socket_mode_link(self, request: web.Request) -> web.WebSocketResponse:
        link = web.WebSocketResponse()
        await link.prepare(request)
        self.socket_link = link
        await link.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0PASS"}})
        self.socket_linked.set()
        async for message in link:
            answer = json.loads(message.data)
            waiting = self._acks.pop(str(answer.get("envelope_id")), None)
            if waiting is not None and not waiting.done():
                waiting.set_result(answer)
        return link

    async def deliver(self, envelope_type: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send one Socket Mode envelope to the connected app and return its ack."""
        await self.socket_linked.wait()
        assert self.socket_link is not None
        envelope_id = f"env-{next(self._ts)}"
        ack: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = ack
        await self.socket_link.send_json(
            {"envelope_id": envelope_id, "type": envelope_type, "payload": payload, "accepts_response_payload": True}
        )
        return await ack

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads[request.match_info["file_id"]] = await request.read()
        return web.Response(text="OK - 1")

    async def _download(self, request: web.Request) -> web.Response:
        self.downloads.append(request.match_info["file_id"])
        if request.headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
            return web.Response(status=403)
        shared = self.shared_files.get(request.match_info["file_id"])
        if shared is None:
            return web.Response(status=404)
        return web.Response(body=shared.content)

    async def _response_url(self, request: web.Request) -> web.Response:
        payload = await request.json()
        self.violations += [("response_url", v) for v in check_message(payload)]
        self.responses.append(payload)
        return web.Response(text="ok")
