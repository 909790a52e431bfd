"""Modal submissions: a rejection's reason, an approval of selected items."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.slack.actions import (
    REJECT_REASON_BLOCK,
    REJECT_REASON_INPUT,
    SELECT_BLOCK_PREFIX,
    SELECT_INPUT,
    ButtonValue,
    ModalContext,
    ViewId,
)
from bot.slack.flows import SlackFlows
from bot.slack.listeners.actions import user_team
from bot.slack.listeners.replies import ephemeral


def selected_keys(view: dict[str, Any]) -> frozenset[str]:
    values = (view.get("state") or {}).get("values") or {}
    keys: set[str] = set()
    for block_id, inputs in values.items():
        if block_id.startswith(SELECT_BLOCK_PREFIX):
            for option in (inputs.get(SELECT_INPUT) or {}).get("selected_options") or []:
                keys.add(str(option["value"]))
    return frozenset(keys)


def register(app: AsyncApp, flows: SlackFlows) -> None:
    @app.view(ViewId.REJECT.value)
    async def reject_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        ctx = ModalContext.decode(view.get("private_metadata"))
        reason = (((view.get("state") or {}).get("values") or {}).get(REJECT_REASON_BLOCK) or {}).get(
            REJECT_REASON_INPUT
        ) or {}
        await ack()
        user = body["user"]["id"]
        await flows.reject(
            ctx,
            user,
            str(reason.get("value") or "").strip(),
            ephemeral(flows.client, ctx.channel, user),
            user_team=user_team(body),
        )

    @app.action(SELECT_INPUT)
    async def selection_changed(ack: AsyncAck, body: dict[str, Any]) -> None:
        """A tick inside the items modal: the count at its top is redrawn (views.update)."""
        await ack()
        view = body.get("view") or {}
        ctx = ModalContext.decode(view.get("private_metadata"))
        await flows.redraw_selection(ctx, selected_keys(view), view_id=str(view.get("id")), view_hash=view.get("hash"))

    @app.view(ViewId.SELECT_ITEMS.value)
    async def selection_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        ctx = ModalContext.decode(view.get("private_metadata"))
        keys = selected_keys(view)
        if not keys:
            # Pure check, answered inside the modal so the person can fix it there.
            await ack(
                response_action="errors", errors={f"{SELECT_BLOCK_PREFIX}0": "Tick at least one item, or use Reject."}
            )
            return
        await ack()
        user = body["user"]["id"]
        value = ButtonValue(run_id=ctx.run_id, plan_hash=ctx.plan_hash)
        await flows.approve(
            value, user, ephemeral(flows.client, ctx.channel, user), user_team=user_team(body), selected=keys
        )
