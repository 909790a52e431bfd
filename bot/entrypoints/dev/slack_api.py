"""The stand-in's Web API: the methods PASS calls, answered the way Slack answers them.

Same envelopes (`{"ok": true, …}` / `{"ok": false, "error": code}`), the same error codes for
an unknown channel, message, trigger or token, and every call recorded in the workspace (the
page's "API calls" list). A method the stand-in does not know answers `unknown_method`, as Slack
does, and shows up red in that list: PASS calling something new is seen, not silently faked.

Also here, because Slack serves them too: the upload URL of `files.getUploadURLExternal`, a
file's private download URL, and the `response_url`s of commands and clicks.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.entrypoints.dev.identities import BOT_ID, BOT_NAME, BOT_USER, TEAM_DOMAIN, TEAM_ID
from bot.entrypoints.dev.workspace import Message, SharedFile, SlackError, Workspace

Params = dict[str, Any]
Handler = Callable[[Params], dict[str, Any]]
# Fields slack_sdk sends as JSON strings inside a form.
_JSON_FIELDS = ("blocks", "view", "files", "attachments")


async def read_params(request: web.Request) -> Params:
    params: Params = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            params.update(body)
    elif request.can_read_body:
        params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    for key in _JSON_FIELDS:
        if isinstance(params.get(key), str):
            try:
                params[key] = json.loads(params[key])
            except json.JSONDecodeError:
                raise SlackError(f"invalid_{key}") from None
    return params


class SlackApi:
    def __init__(self, workspace: Workspace, *, bot_token: str, base_url: Callable[[], str]) -> None:
        self.ws = workspace
        self._token = bot_token
        # The stand-in's own URL, known once its port is bound.
        self._base_url = base_url
        self._methods: dict[str, Handler] = {
            "api.test": lambda p: {"args": p},
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.delete": self._delete,
            "chat.getPermalink": self._permalink,
            "views.open": lambda p: self._open_view(p, push=False),
            "views.push": lambda p: self._open_view(p, push=True),
            "views.update": self._update_view,
            "files.getUploadURLExternal": self._upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "files.info": self._file_info,
            "users.info": self._user_info,
            "users.list": lambda p: {"members": [self._user_json(u) for u in [*self.ws.users, BOT_USER]]},
            "usergroups.list": self._usergroups,
            "usergroups.users.list": self._usergroup_users,
            "conversations.info": self._conversation,
            "conversations.members": lambda p: {"members": [*self.ws.users, BOT_USER]},
        }

    def routes(self) -> list[web.RouteDef]:
        return [
            web.route("*", "/api/{method}", self._api),
            web.post("/dev/files/upload/{file_id}", self._upload),
            web.get("/dev/files/{file_id}/{name}", self._download),
            web.post("/dev/response/{token}", self._response_url),
        ]

    @property
    def base_url(self) -> str:
        return self._base_url().rstrip("/")

    def _authorized(self, request: web.Request) -> bool:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {self._token}".encode())

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            params = await read_params(request)
        except SlackError as exc:
            self.ws.record_call(method, {}, exc.code)
            return web.json_response({"ok": False, "error": exc.code})
        if not self._authorized(request):
            self.ws.record_call(method, params, "invalid_auth")
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = self._methods.get(method)
        try:
            if handler is None:
                raise SlackError("unknown_method")
            answer = handler(params)
        except SlackError as exc:
            self.ws.record_call(method, params, exc.code)
            return web.json_response({"ok": False, "error": exc.code})
        self.ws.record_call(method, params, None)
        return web.json_response({"ok": True, **answer})

    # --- methods -------------------------------------------------------------------------------

    def _auth_test(self, p: Params) -> dict[str, Any]:
        return {
            "url": f"{self.base_url}/",
            "team": TEAM_DOMAIN,
            "user": BOT_NAME.lower(),
            "team_id": TEAM_ID,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _post_message(self, p: Params) -> dict[str, Any]:
        message = self.ws.post(_required(p, "channel"), BOT_USER, p, thread_ts=p.get("thread_ts") or None)
        return {"channel": message.channel, "ts": message.ts, "message": message.as_slack()}

    def _update(self, p: Params) -> dict[str, Any]:
        message = self.ws.update(_required(p, "channel"), _required(p, "ts"), p)
        return {"channel": message.channel, "ts": message.ts, "text": message.text, "message": message.as_slack()}

    def _post_ephemeral(self, p: Params) -> dict[str, Any]:
        user = _required(p, "user")
        if user not in self.ws.users:
            raise SlackError("user_not_in_channel")
        message = self.ws.post(
            _required(p, "channel"), BOT_USER, p, thread_ts=p.get("thread_ts") or None, ephemeral_to=user
        )
        return {"message_ts": message.ts}

    def _delete(self, p: Params) -> dict[str, Any]:
        self.ws.delete(_required(p, "channel"), _required(p, "ts"))
        return {"channel": p["channel"], "ts": p["ts"]}

    def _permalink(self, p: Params) -> dict[str, Any]:
        ts = _required(p, "message_ts")
        if ts not in self.ws.messages:
            raise SlackError("message_not_found")
        return {"channel": p.get("channel"), "permalink": f"{self.base_url}/#{ts}"}

    def _open_view(self, p: Params, *, push: bool) -> dict[str, Any]:
        view = p.get("view")
        if not isinstance(view, dict):
            raise SlackError("invalid_arguments")
        user = self.ws.use_trigger(_required(p, "trigger_id"))
        return {"view": self.ws.open_modal(user, view, push=push).as_slack()}

    def _update_view(self, p: Params) -> dict[str, Any]:
        view = p.get("view")
        if not isinstance(view, dict):
            raise SlackError("invalid_arguments")
        view_id = str(p.get("view_id") or "")
        if not view_id and p.get("external_id"):
            view_id = self._by_external_id(str(p["external_id"]))
        modal = self.ws.update_modal(view_id, view, p.get("hash"))
        return {"view": modal.as_slack()}

    def _by_external_id(self, external_id: str) -> str:
        for stack in self.ws.modals.values():
            for modal in stack:
                if modal.view.get("external_id") == external_id:
                    return modal.id
        raise SlackError("not_found")

    def _upload_url(self, p: Params) -> dict[str, Any]:
        name = _required(p, "filename")
        shared = SharedFile(id=self.ws.new_id("F"), name=name)
        self.ws.files[shared.id] = shared
        return {"upload_url": f"{self.base_url}/dev/files/upload/{shared.id}", "file_id": shared.id}

    def _complete_upload(self, p: Params) -> dict[str, Any]:
        listed = p.get("files")
        if not isinstance(listed, list) or not listed:
            raise SlackError("invalid_arguments")
        done: list[SharedFile] = []
        for entry in listed:
            shared = self.ws.files.get(str(entry.get("id")))
            if shared is None:
                raise SlackError("file_not_found")
            shared.title = str(entry.get("title") or shared.name)
            done.append(shared)
        channel = p.get("channel_id") or p.get("channels")
        if channel:
            text = str(p.get("initial_comment") or "")
            self.ws.post(str(channel), BOT_USER, {"text": text}, thread_ts=p.get("thread_ts") or None, files=done)
        return {"files": [{"id": f.id, "name": f.name, "title": f.title} for f in done]}

    def _file_info(self, p: Params) -> dict[str, Any]:
        shared = self.ws.files.get(_required(p, "file"))
        if shared is None:
            raise SlackError("file_not_found")
        url = f"{self.base_url}/dev/files/{shared.id}/{shared.name}"
        # Where the file was posted, and by whom, as Slack tells an app (PASS checks the
        # requester's channel is one of them before it reads the file).
        posts = [m for m in self.ws.messages.values() if any(f.id == shared.id for f in m.files)]
        return {
            "file": {
                "id": shared.id,
                "name": shared.name,
                "title": shared.title or shared.name,
                "size": len(shared.content),
                "url_private": url,
                "url_private_download": url,
                "user": posts[0].user if posts else BOT_USER,
                "channels": sorted({m.channel for m in posts if m.ephemeral_to is None}),
            }
        }

    def _user_json(self, user_id: str) -> dict[str, Any]:
        if user_id == BOT_USER:
            name, real = BOT_NAME.lower(), BOT_NAME
        else:
            person = self.ws.user(user_id)
            name, real = person.name, person.name.title()
        return {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name,
            "real_name": real,
            "is_bot": user_id == BOT_USER,
            "deleted": False,
            "tz": "UTC",
            "profile": {"display_name": name, "real_name": real},
        }

    def _user_info(self, p: Params) -> dict[str, Any]:
        return {"user": self._user_json(_required(p, "user"))}

    def _usergroups(self, p: Params) -> dict[str, Any]:
        return {
            "usergroups": [
                {"id": g.id, "team_id": TEAM_ID, "handle": g.handle, "name": g.handle, "users": list(g.members)}
                for g in self.ws.groups.values()
            ]
        }

    def _usergroup_users(self, p: Params) -> dict[str, Any]:
        group = self.ws.groups.get(_required(p, "usergroup"))
        if group is None:
            raise SlackError("no_such_subteam")
        return {"users": list(group.members)}

    def _conversation(self, p: Params) -> dict[str, Any]:
        if _required(p, "channel") != self.ws.channel["id"]:
            raise SlackError("channel_not_found")
        return {"channel": {**self.ws.channel, "is_channel": True, "is_member": True, "is_private": False}}

    # --- file transfer and response_urls -------------------------------------------------------

    async def _upload(self, request: web.Request) -> web.Response:
        shared = self.ws.files.get(request.match_info["file_id"])
        if shared is None:
            return web.Response(status=404, text="file_not_found")
        shared.content = await request.read()
        return web.Response(text=f"OK - {len(shared.content)}")

    async def _download(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.Response(status=403)
        shared = self.ws.files.get(request.match_info["file_id"])
        if shared is None:
            return web.Response(status=404)
        return web.Response(body=shared.content)

    async def _response_url(self, request: web.Request) -> web.Response:
        try:
            payload = await request.json()
            target = self.ws.use_response_target(request.match_info["token"])
        except SlackError as exc:
            return web.Response(status=404, text=exc.code)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.Response(status=400, text="invalid_payload")
        apply_response(self.ws, target.user, target.channel, payload, target.thread_ts, target.message_ts)
        return web.Response(text="ok")


def apply_response(
    ws: Workspace,
    user: str,
    channel: str,
    payload: dict[str, Any],
    thread_ts: str | None,
    message_ts: str | None,
) -> Message | None:
    """An answer to a person's action (a response_url post, or an ack with a message in it)."""
    original = ws.messages.get(message_ts) if message_ts else None
    if payload.get("delete_original") and original is not None:
        ws.delete(channel, original.ts)
        return None
    if payload.get("replace_original") and original is not None:
        # chat.update cannot touch an ephemeral message, but a response_url can.
        return ws.update(channel, original.ts, payload, via_response_url=True)
    ephemeral = payload.get("response_type") != "in_channel"
    return ws.post(
        channel,
        BOT_USER,
        payload,
        thread_ts=payload.get("thread_ts") or thread_ts,
        ephemeral_to=user if ephemeral else None,
    )


def _required(p: Params, key: str) -> str:
    value = p.get(key)
    if not value:
        raise SlackError("channel_not_found" if key == "channel" else "invalid_arguments")
    return str(value)
