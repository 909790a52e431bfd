"""A real HTTP server on 127.0.0.1 playing Slack's Web API `chat.postMessage`, recording posts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "xoxb-test-digest"  # a fake token the fake server expects


@dataclass
class Post:
    channel: str
    text: str
    blocks: list[dict[str, Any]]

    @property
    def all_text(self) -> str:
        return json.dumps(self.blocks, ensure_ascii=False)


@dataclass
class FakeSlack:
    posts: list[Post] = field(default_factory=list)
    # Answer the next N posts with this Slack error (ok=false), then succeed again.
    fail_next: int = 0
    fail_error: str = "internal_error"
    unknown_channels: set[str] = field(default_factory=set)
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/chat.postMessage", self._post_message)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _post_message(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if request.content_type == "application/json":
            body = await request.json()
        else:
            body = dict(await request.post())
        blocks = body.get("blocks", [])
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        channel = str(body.get("channel", ""))
        if channel in self.unknown_channels:
            return web.json_response({"ok": False, "error": "channel_not_found"})
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.json_response({"ok": False, "error": self.fail_error})
        self.posts.append(Post(channel=channel, text=str(body.get("text", "")), blocks=blocks))
        return web.json_response({"ok": True, "channel": channel, "ts": f"1700000000.{len(self.posts):06d}"})
