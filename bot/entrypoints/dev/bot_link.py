"""What a person does on the page, sent to the bot as Slack sends it, and the bot's answer applied
as Slack applies it.

Every request goes to the bot's request URL (POST /slack/events) signed with the signing secret
(bot/entrypoints/dev/signing.py), so Bolt verifies it exactly as it verifies Slack. Slack waits three seconds
for the acknowledgement; so does this, and a late or failed one is shown to the person the way
Slack shows it ("/pass failed with the error "operation_timeout"").
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import aiohttp

from bot.entrypoints.dev import payloads
from bot.entrypoints.dev.identities import BOT_NAME, BOT_USER
from bot.entrypoints.dev.signing import signed_headers
from bot.entrypoints.dev.slack_api import apply_response
from bot.entrypoints.dev.workspace import Message, Modal, ResponseTarget, SlackError, Workspace
from bot.logging import get_logger

log = get_logger(__name__)

ACK_TIMEOUT_S = 3.0
KNOWN_COMMANDS = ("/pass",)
_MENTION = re.compile(rf"@{BOT_NAME}\b", re.IGNORECASE)


class AckFailed(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def slack_escape(text: str) -> str:
    """Slack sends &, < and > in typed text as entities (PASS turns them back)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def find_element(message: Message, action_id: str) -> tuple[str, dict[str, Any]]:
    """The interactive element `action_id` names in a message, and its block's id (Slack makes
    one up for a block that has none)."""
    for index, block in enumerate(message.blocks):
        block_id = str(block.get("block_id") or f"dev-block-{index}")
        candidates = list(block.get("elements") or []) if block.get("type") == "actions" else []
        if isinstance(block.get("accessory"), dict):
            candidates.append(block["accessory"])
        for element in candidates:
            if element.get("action_id") == action_id:
                return block_id, element
    raise SlackError("action_not_found")


def view_state(view: dict[str, Any], submitted: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The `state.values` Slack sends for a modal's inputs, from what the page collected
    ({block_id: {"value": str} | {"selected": [option values]}}), and the inputs a required field
    left empty (Slack's client refuses those before anything is sent)."""
    values: dict[str, Any] = {}
    missing: dict[str, str] = {}
    for block in view.get("blocks") or []:
        if block.get("type") != "input":
            continue
        block_id = str(block.get("block_id") or "")
        element = block.get("element") or {}
        kind = str(element.get("type") or "")
        given = submitted.get(block_id) or {}
        options = {str(o.get("value")): o for o in element.get("options") or []}
        chosen = [options[v] for v in given.get("selected") or [] if v in options]
        state: dict[str, Any] = {"type": kind}
        if kind == "plain_text_input":
            text = str(given.get("value") or "")
            state["value"] = text or None
            empty = not text.strip()
        elif kind in {"checkboxes", "multi_static_select"}:
            state["selected_options"] = chosen
            empty = not chosen
        elif kind in {"radio_buttons", "static_select"}:
            state["selected_option"] = chosen[0] if chosen else None
            empty = not chosen
        else:
            empty = False
        values[block_id] = {str(element.get("action_id") or ""): state}
        if empty and not block.get("optional"):
            missing[block_id] = "Please complete this required field."
    return values, missing


class BotLink:
    def __init__(self, workspace: Workspace, *, signing_secret: str, base_url: Callable[[], str]) -> None:
        self.ws = workspace
        self._secret = signing_secret
        self._base_url = base_url
        self.events_url = ""
        self._http: aiohttp.ClientSession | None = None
        self._event_ids = 0

    async def start(self, events_url: str) -> None:
        self.events_url = events_url
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=ACK_TIMEOUT_S))

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    def _response_url(self, target: ResponseTarget) -> str:
        return f"{self._base_url().rstrip('/')}/dev/response/{self.ws.new_response_target(target)}"

    async def _send(self, body: str, content_type: str) -> str:
        """The bot's acknowledgement body; AckFailed with Slack's error code otherwise."""
        assert self._http is not None, "start() first"
        headers = signed_headers(self._secret, body, content_type)
        try:
            async with self._http.post(self.events_url, data=body.encode(), headers=headers) as response:
                text = await response.text()
                if response.status != 200:
                    log.warning("dev.bot_refused", status=response.status, body=text[:200])
                    raise AckFailed(f"http_{response.status}")
                return text
        except TimeoutError:
            raise AckFailed("operation_timeout") from None
        except aiohttp.ClientError:
            raise AckFailed("dispatch_failed") from None

    def _tell(self, user: str, text: str, thread_ts: str | None = None) -> None:
        """A note from Slack itself (not from PASS), seen only by `user`."""
        self.ws.post(self.ws.channel["id"], "USLACKBOT", {"text": text}, thread_ts=thread_ts, ephemeral_to=user)

    # --- typing in the composer ----------------------------------------------------------------

    async def send(self, user: str, text: str, thread_ts: str | None = None) -> None:
        """Text typed in the composer: a slash command when it starts with "/", else a message."""
        if text.startswith("/"):
            await self.command(user, text, thread_ts)
        else:
            await self.message(user, text, thread_ts)

    async def command(self, user: str, typed: str, thread_ts: str | None = None) -> None:
        parts = typed.split(maxsplit=1)
        command = parts[0] if parts else typed
        text = typed[len(command) :].lstrip(" ")
        if command not in KNOWN_COMMANDS:
            self._tell(
                user,
                f"`{command}` is not a valid command. In Slack, messages that start with the “/” character "
                f"are interpreted as commands. Try `/pass help`.",
                thread_ts,
            )
            return
        person = self.ws.user(user)
        channel = self.ws.channel["id"]
        body = payloads.slash_command(
            command,
            slack_escape(text),
            user=person,
            channel=channel,
            response_url=self._response_url(ResponseTarget(user, channel, thread_ts)),
            trigger_id=self.ws.new_trigger(user),
        )
        try:
            answer = await self._send(body, payloads.FORM)
        except AckFailed as failed:
            self._tell(user, f'{command} failed with the error "{failed.code}"', thread_ts)
            return
        if answer.strip():
            self._apply_ack_message(user, answer, thread_ts)

    def _apply_ack_message(self, user: str, answer: str, thread_ts: str | None) -> None:
        """A command's ack may carry its answer: JSON (text, blocks, response_type) or plain text."""
        try:
            payload = json.loads(answer)
        except json.JSONDecodeError:
            payload = {"text": answer}
        if not isinstance(payload, dict):
            payload = {"text": answer}
        apply_response(self.ws, user, self.ws.channel["id"], payload, thread_ts, None)

    async def message(self, user: str, typed: str, thread_ts: str | None = None) -> None:
        """A message in the channel or a thread; one that mentions @PASS is also an app_mention."""
        person = self.ws.user(user)
        text = _MENTION.sub(f"<@{BOT_USER}>", slack_escape(typed))
        posted = self.ws.post(self.ws.channel["id"], user, {"text": text}, thread_ts=thread_ts)
        if f"<@{BOT_USER}>" not in text:
            return
        self._event_ids += 1
        body = payloads.app_mention(
            user=person,
            text=text,
            channel=posted.channel,
            ts=posted.ts,
            thread_ts=posted.thread_ts,
            event_id=f"Ev0DEV{self._event_ids:06d}",
        )
        try:
            await self._send(body, payloads.JSON)
        except AckFailed as failed:
            # Slack retries an event; the person sees nothing. The page shows it, for the developer.
            self._tell(user, f'PASS did not acknowledge the mention event ("{failed.code}").', posted.thread_ts)

    # --- clicks and modals ---------------------------------------------------------------------

    async def click(self, user: str, message_ts: str, action_id: str) -> None:
        person = self.ws.user(user)
        message = self.ws.messages.get(message_ts)
        if message is None or message.ephemeral_to not in {None, user}:
            raise SlackError("message_not_found")
        block_id, element = find_element(message, action_id)
        target = ResponseTarget(user, message.channel, message.thread_ts, message.ts)
        body = payloads.block_actions(
            user=person,
            channel=message.channel,
            message=message.as_slack(),
            ephemeral=message.ephemeral_to is not None,
            action=element,
            block_id=block_id,
            trigger_id=self.ws.new_trigger(user),
            response_url=self._response_url(target),
        )
        try:
            await self._send(body, payloads.FORM)
        except AckFailed as failed:
            self._tell(user, f'That click failed with the error "{failed.code}".', message.thread_ts)

    async def submit(self, user: str, view_id: str, submitted: dict[str, Any]) -> None:
        modal = self._modal_of(user, view_id)
        values, missing = view_state(modal.view, submitted)
        if missing:
            self.ws.show_errors(view_id, missing)
            return
        body = payloads.view_submission(
            user=self.ws.user(user), view=modal.as_slack(), values=values, trigger_id=self.ws.new_trigger(user)
        )
        try:
            answer = await self._send(body, payloads.FORM)
        except AckFailed as failed:
            self.ws.show_errors(view_id, {"": f'We had some trouble connecting ("{failed.code}"). Try again?'})
            return
        self._apply_view_ack(modal, answer)

    async def change(self, user: str, view_id: str, block_id: str, submitted: dict[str, Any]) -> None:
        """A tick in a modal whose block dispatches its changes: the app hears it at once."""
        modal = self._modal_of(user, view_id)
        values, _ = view_state(modal.view, submitted)
        block = next((b for b in modal.view.get("blocks") or [] if b.get("block_id") == block_id), None)
        if block is None or not block.get("dispatch_action"):
            return  # Slack sends nothing for a block that does not dispatch
        element = block.get("element") or {}
        action = {
            "type": element.get("type"),
            "action_id": element.get("action_id"),
            "block_id": block_id,
            **{
                k: v
                for k, v in (values.get(block_id) or {}).get(str(element.get("action_id")), {}).items()
                if k != "type"
            },
        }
        body = payloads.view_block_actions(
            user=self.ws.user(user),
            view=modal.as_slack(),
            values=values,
            action=action,
            trigger_id=self.ws.new_trigger(user),
        )
        try:
            await self._send(body, payloads.FORM)
        except AckFailed as failed:
            self.ws.show_errors(view_id, {"": f'We had some trouble connecting ("{failed.code}"). Try again?'})

    async def shortcut(self, user: str, message_ts: str, callback_id: str) -> None:
        """A message shortcut ("More actions" on a message), answered through its response_url."""
        message = self.ws.messages.get(message_ts)
        if message is None or message.ephemeral_to not in {None, user}:
            raise SlackError("message_not_found")
        target = ResponseTarget(user, message.channel, message.thread_ts, message.ts)
        body = payloads.message_shortcut(
            user=self.ws.user(user),
            channel=message.channel,
            message=message.as_slack(),
            callback_id=callback_id,
            trigger_id=self.ws.new_trigger(user),
            response_url=self._response_url(target),
        )
        try:
            await self._send(body, payloads.FORM)
        except AckFailed as failed:
            self._tell(user, f'That shortcut failed with the error "{failed.code}".', message.thread_ts)

    def _apply_view_ack(self, modal: Modal, answer: str) -> None:
        try:
            ack = json.loads(answer) if answer.strip() else {}
        except json.JSONDecodeError:
            ack = {}
        action = ack.get("response_action") if isinstance(ack, dict) else None
        if action == "errors":
            self.ws.show_errors(modal.id, {str(k): str(v) for k, v in (ack.get("errors") or {}).items()})
        elif action == "update" and isinstance(ack.get("view"), dict):
            self.ws.update_modal(modal.id, ack["view"])
        elif action == "push" and isinstance(ack.get("view"), dict):
            self.ws.open_modal(modal.user, ack["view"], push=True)
        else:
            self.ws.close_modal(modal.id, all_of_them=action == "clear")

    async def close_view(self, user: str, view_id: str) -> None:
        modal = self._modal_of(user, view_id)
        self.ws.close_modal(view_id)
        if modal.view.get("notify_on_close"):
            body = payloads.view_closed(user=self.ws.user(user), view=modal.as_slack())
            try:
                await self._send(body, payloads.FORM)
            except AckFailed:
                log.warning("dev.view_closed_not_acked", view_id=view_id)

    def _modal_of(self, user: str, view_id: str) -> Modal:
        modal = self.ws.find_modal(view_id)
        if modal.user != user:
            raise SlackError("not_found")
        return modal
