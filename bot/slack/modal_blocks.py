"""The stop-line's modals (pure): reject with a reason, or choose which items to approve."""

from __future__ import annotations

from bot.domain.models import Run
from bot.slack import limits
from bot.slack.actions import (
    REJECT_REASON_BLOCK,
    REJECT_REASON_INPUT,
    SELECT_BLOCK_PREFIX,
    SELECT_INPUT,
    ModalContext,
    ViewId,
)
from bot.slack.block_kit import Block, View, plain, section
from bot.slack.card_blocks import run_title
from bot.slack.mrkdwn import clip, esc, one_line

MODAL_MAX_ITEMS = (limits.MODAL_BLOCKS - 4) * limits.CHECKBOX_OPTIONS


def reject_modal(run: Run, ctx: ModalContext) -> View:
    return {
        "type": "modal",
        "callback_id": ViewId.REJECT.value,
        "private_metadata": ctx.encode(),
        "title": plain("Reject plan", limits.MODAL_TITLE),
        "submit": plain("Reject", limits.MODAL_BUTTON),
        "close": plain("Cancel", limits.MODAL_BUTTON),
        "blocks": [
            section(
                f"Rejecting *{esc(clip(run_title(run), 200))}* (run `{esc(run.run_id)}`). Nothing will be created."
            ),
            {
                "type": "input",
                "block_id": REJECT_REASON_BLOCK,
                "label": plain("Why?", 100),
                "hint": plain("Shown on the card and kept in the audit log.", 150),
                "element": {
                    "type": "plain_text_input",
                    "action_id": REJECT_REASON_INPUT,
                    "multiline": True,
                    "max_length": 1000,
                    "placeholder": plain("e.g. split the PRD first; the auth items are out of scope", 150),
                },
            },
        ],
    }


def select_items_modal(run: Run, ctx: ModalContext, selected: frozenset[str] | None = None) -> View:
    """Checkboxes, ten to a group (Slack's limit), every item ticked to start with. `selected`:
    the items ticked now, when redrawn after a tick (each group dispatches its changes, so the
    count follows them)."""
    items = run.plan.items[:MODAL_MAX_ITEMS] if run.plan else []
    ticked = {i.key for i in items} if selected is None else {i.key for i in items if i.key in selected}
    blocks: list[Block] = [
        section(
            f"Untick what should *not* become an issue, then approve. The approval covers exactly the "
            f"items left ticked ({len(ticked)} now)."
        )
    ]
    for group, start in enumerate(range(0, len(items), limits.CHECKBOX_OPTIONS)):
        chunk = items[start : start + limits.CHECKBOX_OPTIONS]
        options = [
            {
                "text": plain(f"{i.key} · {one_line(i.title)}", limits.OPTION_TEXT),
                "description": plain(
                    f"{i.estimate} · serves {', '.join(i.requirement_ids) or 'no requirement'}",
                    limits.OPTION_DESCRIPTION,
                ),
                "value": clip(i.key, limits.OPTION_VALUE),
            }
            for i in chunk
        ]
        element: Block = {"type": "checkboxes", "action_id": SELECT_INPUT, "options": options}
        initial = [o for o, i in zip(options, chunk, strict=True) if i.key in ticked]
        if initial:  # Slack refuses an empty initial_options
            element["initial_options"] = initial
        blocks.append(
            {
                "type": "input",
                "block_id": f"{SELECT_BLOCK_PREFIX}{group}",
                "optional": True,
                "dispatch_action": True,
                "label": plain(f"Items {start + 1}–{start + len(chunk)}", 100),
                "element": element,
            }
        )
    return {
        "type": "modal",
        "callback_id": ViewId.SELECT_ITEMS.value,
        "private_metadata": ctx.encode(),
        "title": plain("Choose items", limits.MODAL_TITLE),
        "submit": plain("Approve selected", limits.MODAL_BUTTON),
        "close": plain("Cancel", limits.MODAL_BUTTON),
        "blocks": blocks,
    }
