"""The dev workspace's state, in memory: one channel, its messages and threads, who sees which
ephemeral message, each person's open modals, uploaded files, and every Web API call PASS made.

Every message and modal is run through Slack's Block Kit limits (bot/slack/limits.py) as it
arrives; what breaks one is kept beside it so the page can show it rather than hide it (real
Slack would refuse the call with `invalid_blocks`).

The page reads one snapshot per person (`snapshot(user)`), long-polling with `wait(after)`.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from bot.entrypoints.dev.identities import (
    APP_ID,
    BOT_ID,
    BOT_NAME,
    BOT_USER,
    CHANNEL_ID,
    CHANNEL_NAME,
    GROUPS,
    TEAM_DOMAIN,
    TEAM_ID,
    USERS,
    DevUser,
    UserGroup,
)
from bot.slack.limits import check_message, check_view

# Slack's rules: a trigger_id is good once, for 3 seconds; a response_url five times in 30 minutes.
TRIGGER_TTL_S = 3.0
RESPONSE_URL_USES = 5
RESPONSE_URL_TTL_S = 30 * 60
MAX_CALLS_KEPT = 5000
FILE_PREVIEW_CHARS = 20_000


class SlackError(Exception):
    """An answer Slack gives as `{"ok": false, "error": code}`."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class ApiCall:
    number: int
    method: str
    params: dict[str, Any]
    error: str | None
    at: float

    def summary(self) -> dict[str, Any]:
        return {
            "n": self.number,
            "method": self.method,
            "ok": self.error is None,
            "error": self.error,
            "what": _describe(self.method, self.params),
            "at": self.at,
        }


def _describe(method: str, p: dict[str, Any]) -> str:
    if method.startswith("chat."):
        where = " ".join(str(p[k]) for k in ("channel", "ts", "thread_ts", "user") if p.get(k))
        return f"{where} · {str(p.get('text') or '')[:90]}"
    if method.startswith("views."):
        view = p.get("view") or {}
        return f"{view.get('callback_id', '')} · {(view.get('title') or {}).get('text', '')}"
    if method.startswith("files."):
        return str(p.get("filename") or p.get("file") or p.get("files") or "")[:120]
    return " ".join(f"{k}={v}" for k, v in p.items() if isinstance(v, str))[:120]


@dataclass
class SharedFile:
    id: str
    name: str
    title: str = ""
    content: bytes = b""

    def to_json(self) -> dict[str, Any]:
        text = self.content.decode("utf-8", errors="replace")
        return {
            "id": self.id,
            "name": self.name,
            "title": self.title or self.name,
            "size": len(self.content),
            "preview": text[:FILE_PREVIEW_CHARS],
            "truncated": len(text) > FILE_PREVIEW_CHARS,
        }


@dataclass
class Message:
    ts: str
    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    # Set for an ephemeral message: the only person who sees it.
    ephemeral_to: str | None = None
    edits: int = 0
    files: list[SharedFile] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def as_slack(self) -> dict[str, Any]:
        """The message as Slack hands it back to an app (in a click's payload, for one)."""
        shown: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text, "blocks": self.blocks}
        shown |= {"bot_id": BOT_ID, "user": BOT_USER} if self.user == BOT_USER else {"user": self.user}
        if self.thread_ts:
            shown["thread_ts"] = self.thread_ts
        return shown

    def to_json(self, replies: int) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "user": self.user,
            "text": self.text,
            "blocks": self.blocks,
            "thread_ts": self.thread_ts,
            "ephemeral": self.ephemeral_to is not None,
            "edits": self.edits,
            "files": [f.to_json() for f in self.files],
            "violations": self.violations,
            "replies": replies,
        }


@dataclass
class Modal:
    id: str
    user: str
    view: dict[str, Any]
    hash: str
    violations: list[str]
    errors: dict[str, str] = field(default_factory=dict)

    def as_slack(self) -> dict[str, Any]:
        return {
            **self.view,
            "id": self.id,
            "hash": self.hash,
            "team_id": TEAM_ID,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "root_view_id": self.id,
            "previous_view_id": None,
            "private_metadata": self.view.get("private_metadata", ""),
            "callback_id": self.view.get("callback_id", ""),
        }


@dataclass
class ResponseTarget:
    """Where a response_url's answer goes: to whom, in which channel/thread, about which message."""

    user: str
    channel: str
    thread_ts: str | None = None
    message_ts: str | None = None
    uses: int = 0
    created: float = field(default_factory=time.time)


class Workspace:
    def __init__(self, users: tuple[DevUser, ...] = USERS, groups: tuple[UserGroup, ...] = GROUPS) -> None:
        self.users = {u.id: u for u in users}
        self.groups = {g.id: g for g in groups}
        self.channel = {"id": CHANNEL_ID, "name": CHANNEL_NAME}
        self.messages: dict[str, Message] = {}
        self.modals: dict[str, list[Modal]] = {}
        self.files: dict[str, SharedFile] = {}
        self.calls: deque[ApiCall] = deque(maxlen=MAX_CALLS_KEPT)
        self.calls_total = 0
        self.violations_total = 0
        self.version = 0
        self.closed = False
        self._triggers: dict[str, tuple[str, float, bool]] = {}
        self._responses: dict[str, ResponseTarget] = {}
        self._changed = asyncio.Event()
        self._last_ts = 0.0
        self._ids = itertools.count(1)

    # --- change notification -------------------------------------------------------------------

    def _touch(self) -> None:
        self.version += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait(self, after: int, timeout_s: float) -> None:
        """Until the version passes `after`, the timeout, or close()."""
        if self.version > after or self.closed:
            return
        try:
            await asyncio.wait_for(self._changed.wait(), timeout_s)
        except TimeoutError:
            return

    def close(self) -> None:
        self.closed = True
        self._touch()

    # --- ids -----------------------------------------------------------------------------------

    def next_ts(self) -> str:
        """Slack's message ids: seconds.microseconds, increasing within a channel."""
        self._last_ts = max(time.time(), self._last_ts + 0.000001)
        return f"{self._last_ts:.6f}"

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}"

    def user(self, user_id: str) -> DevUser:
        try:
            return self.users[user_id]
        except KeyError:
            raise SlackError("user_not_found") from None

    def _check_channel(self, channel: str) -> None:
        if channel != self.channel["id"]:
            raise SlackError("channel_not_found")

    # --- triggers and response_urls ------------------------------------------------------------

    def new_trigger(self, user: str) -> str:
        trigger = f"{int(time.time())}.{secrets.token_hex(6)}"
        self._triggers[trigger] = (user, time.monotonic(), False)
        return trigger

    def use_trigger(self, trigger_id: str) -> str:
        """The person a trigger_id was made for; Slack's errors when it is unknown, used or late."""
        if trigger_id not in self._triggers:
            raise SlackError("invalid_trigger_id")
        user, made, used = self._triggers[trigger_id]
        if used:
            raise SlackError("exchanged_trigger_id")
        if time.monotonic() - made > TRIGGER_TTL_S:
            raise SlackError("expired_trigger_id")
        self._triggers[trigger_id] = (user, made, True)
        return user

    def new_response_target(self, target: ResponseTarget) -> str:
        token = secrets.token_urlsafe(12)
        self._responses[token] = target
        return token

    def use_response_target(self, token: str) -> ResponseTarget:
        target = self._responses.get(token)
        if target is None or time.time() - target.created > RESPONSE_URL_TTL_S:
            raise SlackError("expired_url")
        if target.uses >= RESPONSE_URL_USES:
            raise SlackError("used_url")
        target.uses += 1
        return target

    # --- the Web API's effects -----------------------------------------------------------------

    def record_call(self, method: str, params: dict[str, Any], error: str | None) -> None:
        self.calls_total += 1
        self.calls.append(ApiCall(self.calls_total, method, params, error, time.time()))
        self._touch()

    def _violations(self, payload: dict[str, Any], *, view: bool = False) -> list[str]:
        found = [str(v) for v in (check_view(payload) if view else check_message(payload))]
        self.violations_total += len(found)
        return found

    def post(
        self,
        channel: str,
        user: str,
        payload: dict[str, Any],
        *,
        thread_ts: str | None = None,
        ephemeral_to: str | None = None,
        files: list[SharedFile] | None = None,
    ) -> Message:
        self._check_channel(channel)
        if thread_ts:
            parent = self.messages.get(thread_ts)
            if parent is None or parent.ephemeral_to is not None:
                raise SlackError("thread_not_found")
            # A reply to a reply joins the parent's thread, as in Slack.
            thread_ts = parent.thread_ts or parent.ts
        message = Message(
            ts=self.next_ts(),
            channel=channel,
            user=user,
            text=str(payload.get("text") or ""),
            blocks=list(payload.get("blocks") or []),
            thread_ts=thread_ts,
            ephemeral_to=ephemeral_to,
            files=files or [],
            violations=self._violations(payload) if user == BOT_USER else [],
        )
        self.messages[message.ts] = message
        self._touch()
        return message

    def update(self, channel: str, ts: str, payload: dict[str, Any], *, via_response_url: bool = False) -> Message:
        self._check_channel(channel)
        message = self.messages.get(ts)
        if message is None or (message.ephemeral_to is not None and not via_response_url):
            raise SlackError("message_not_found")
        if message.user != BOT_USER:
            raise SlackError("cant_update_message")
        message.text = str(payload.get("text") or "")
        message.blocks = list(payload.get("blocks") or [])
        message.edits += 1
        message.violations = self._violations(payload)
        self._touch()
        return message

    def delete(self, channel: str, ts: str) -> None:
        self._check_channel(channel)
        if self.messages.pop(ts, None) is None:
            raise SlackError("message_not_found")
        self._touch()

    def dismiss(self, user: str, ts: str) -> None:
        message = self.messages.get(ts)
        if message is not None and message.ephemeral_to == user:
            del self.messages[ts]
            self._touch()

    def open_modal(self, user: str, view: dict[str, Any], *, push: bool = False) -> Modal:
        stack = self.modals.setdefault(user, [])
        if push and not stack:
            raise SlackError("not_found")
        if not push:
            stack.clear()
        modal = Modal(self.new_id("V"), user, view, self._hash(), self._violations(view, view=True))
        stack.append(modal)
        self._touch()
        return modal

    def update_modal(self, view_id: str, view: dict[str, Any], expected_hash: str | None = None) -> Modal:
        modal = self.find_modal(view_id)
        if expected_hash and expected_hash != modal.hash:
            raise SlackError("hash_conflict")
        modal.view, modal.hash, modal.errors = view, self._hash(), {}
        modal.violations = self._violations(view, view=True)
        self._touch()
        return modal

    def find_modal(self, view_id: str) -> Modal:
        for stack in self.modals.values():
            for modal in stack:
                if modal.id == view_id:
                    return modal
        raise SlackError("not_found")

    def close_modal(self, view_id: str, *, all_of_them: bool = False) -> None:
        modal = self.find_modal(view_id)
        stack = self.modals[modal.user]
        if all_of_them:
            stack.clear()
        else:
            stack.remove(modal)
        self._touch()

    def show_errors(self, view_id: str, errors: dict[str, str]) -> None:
        self.find_modal(view_id).errors = dict(errors)
        self._touch()

    def _hash(self) -> str:
        return f"{time.time():.6f}.{secrets.token_hex(4)}"

    # --- what the page shows -------------------------------------------------------------------

    def snapshot(self, user: str) -> dict[str, Any]:
        replies: dict[str, int] = {}
        for m in self.messages.values():
            if m.is_reply and m.thread_ts and m.ephemeral_to is None:
                replies[m.thread_ts] = replies.get(m.thread_ts, 0) + 1
        shown = [
            m.to_json(replies.get(m.ts, 0))
            for m in self.messages.values()
            if m.ephemeral_to is None or m.ephemeral_to == user
        ]
        stack = self.modals.get(user) or []
        top = stack[-1] if stack else None
        return {
            "version": self.version,
            "team": {"domain": TEAM_DOMAIN},
            "bot": {"id": BOT_USER, "name": BOT_NAME},
            "channel": self.channel,
            "users": [{"id": u.id, "name": u.name, "role": u.role} for u in self.users.values()],
            "groups": [{"id": g.id, "handle": g.handle, "members": list(g.members)} for g in self.groups.values()],
            "messages": shown,
            "modal": None
            if top is None
            else {
                "id": top.id,
                "hash": top.hash,
                "view": top.view,
                "violations": top.violations,
                "errors": top.errors,
                "depth": len(stack),
            },
            "calls": [c.summary() for c in list(self.calls)[-150:]],
            "calls_total": self.calls_total,
            "violations_total": self.violations_total,
        }
