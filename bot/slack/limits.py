"""Slack's Block Kit limits as a pure checker: a payload in, the broken limits out.

Limits are those Slack documents and slack_sdk validates (see tests/fixtures/slack/SLACK_FACTS.md):
a message over them is refused by Slack (`invalid_blocks`) or silently truncated. The renderers
(`block_kit.py` and the `*_blocks.py` beside it) are written to stay inside them; tests run every
payload PASS sends through here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MESSAGE_BLOCKS = 50
MODAL_BLOCKS = 100
MESSAGE_TEXT = 40_000
SECTION_TEXT = 3000
SECTION_FIELDS = 10
FIELD_TEXT = 2000
HEADER_TEXT = 150
MARKDOWN_BLOCK_TEXT = 12_000
CONTEXT_ELEMENTS = 10
ACTIONS_ELEMENTS = 25
BLOCK_ID = 255
ACTION_ID = 255
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
URL = 3000
CONFIRM_TITLE, CONFIRM_TEXT, CONFIRM_BUTTON = 100, 300, 30
OPTION_TEXT, OPTION_VALUE, OPTION_DESCRIPTION = 75, 150, 75
CHECKBOX_OPTIONS = 10
SELECT_OPTIONS = 100
PLACEHOLDER = 150
INPUT_LABEL = 2000
INPUT_MAX_LENGTH = 3000
MODAL_TITLE = MODAL_BUTTON = 24
PRIVATE_METADATA = 3000


@dataclass(frozen=True)
class Violation:
    where: str
    rule: str
    limit: int
    actual: int

    def __str__(self) -> str:
        return f"{self.where}: {self.rule} is {self.actual}, limit {self.limit}"


class _Checker:
    def __init__(self) -> None:
        self.found: list[Violation] = []

    def at_most(self, where: str, rule: str, actual: int, limit: int) -> None:
        if actual > limit:
            self.found.append(Violation(where, rule, limit, actual))

    def text(self, where: str, obj: Any, limit: int, *, plain_only: bool = False) -> None:
        if not isinstance(obj, Mapping) or obj.get("type") not in {"plain_text", "mrkdwn"}:
            self.found.append(Violation(where, "not a text object", 0, 0))
            return
        if plain_only and obj["type"] != "plain_text":
            self.found.append(Violation(where, "must be plain_text", 0, 0))
        value = str(obj.get("text", ""))
        if not value.strip():
            self.found.append(Violation(where, "empty text", 1, 0))
        self.at_most(where, "text length", len(value), limit)

    def confirm(self, where: str, dialog: Mapping[str, Any]) -> None:
        self.text(f"{where}.title", dialog.get("title"), CONFIRM_TITLE, plain_only=True)
        self.text(f"{where}.text", dialog.get("text"), CONFIRM_TEXT)
        self.text(f"{where}.confirm", dialog.get("confirm"), CONFIRM_BUTTON, plain_only=True)
        self.text(f"{where}.deny", dialog.get("deny"), CONFIRM_BUTTON, plain_only=True)

    def option(self, where: str, option: Mapping[str, Any]) -> None:
        self.text(f"{where}.text", option.get("text"), OPTION_TEXT)
        self.at_most(f"{where}.value", "value length", len(str(option.get("value", ""))), OPTION_VALUE)
        if "description" in option:
            self.text(f"{where}.description", option["description"], OPTION_DESCRIPTION)

    def element(self, where: str, element: Mapping[str, Any]) -> None:
        kind = element.get("type")
        if "action_id" in element:
            self.at_most(f"{where}.action_id", "action_id length", len(str(element["action_id"])), ACTION_ID)
        if "placeholder" in element:
            self.text(f"{where}.placeholder", element["placeholder"], PLACEHOLDER, plain_only=True)
        if "confirm" in element:
            self.confirm(f"{where}.confirm", element["confirm"])
        if kind == "button":
            self.text(f"{where}.text", element.get("text"), BUTTON_TEXT, plain_only=True)
            self.at_most(f"{where}.value", "value length", len(str(element.get("value", ""))), BUTTON_VALUE)
            self.at_most(f"{where}.url", "url length", len(str(element.get("url", ""))), URL)
        elif kind in {"checkboxes", "radio_buttons"}:
            options = element.get("options", [])
            self.at_most(f"{where}.options", "options", len(options), CHECKBOX_OPTIONS)
            for i, option in enumerate(options):
                self.option(f"{where}.options[{i}]", option)
        elif kind in {"static_select", "multi_static_select"}:
            options = element.get("options", [])
            self.at_most(f"{where}.options", "options", len(options), SELECT_OPTIONS)
            for i, option in enumerate(options):
                self.option(f"{where}.options[{i}]", option)
        elif kind == "plain_text_input":
            self.at_most(f"{where}.max_length", "max_length", int(element.get("max_length", 0)), INPUT_MAX_LENGTH)
        elif kind in {"mrkdwn", "plain_text"}:
            self.text(where, element, SECTION_TEXT)

    def block(self, where: str, block: Mapping[str, Any]) -> None:
        kind = block.get("type")
        if "block_id" in block:
            self.at_most(f"{where}.block_id", "block_id length", len(str(block["block_id"])), BLOCK_ID)
        if kind == "section":
            if "text" in block or "fields" not in block:
                self.text(f"{where}.text", block.get("text"), SECTION_TEXT)
            fields = block.get("fields", [])
            self.at_most(f"{where}.fields", "fields", len(fields), SECTION_FIELDS)
            for i, field in enumerate(fields):
                self.text(f"{where}.fields[{i}]", field, FIELD_TEXT)
            if "accessory" in block:
                self.element(f"{where}.accessory", block["accessory"])
        elif kind == "header":
            self.text(f"{where}.text", block.get("text"), HEADER_TEXT, plain_only=True)
        elif kind == "context":
            elements = block.get("elements", [])
            self.at_most(f"{where}.elements", "elements", len(elements), CONTEXT_ELEMENTS)
            for i, element in enumerate(elements):
                self.element(f"{where}.elements[{i}]", element)
        elif kind == "actions":
            elements = block.get("elements", [])
            self.at_most(f"{where}.elements", "elements", len(elements), ACTIONS_ELEMENTS)
            for i, element in enumerate(elements):
                self.element(f"{where}.elements[{i}]", element)
        elif kind == "input":
            self.text(f"{where}.label", block.get("label"), INPUT_LABEL, plain_only=True)
            if "hint" in block:
                self.text(f"{where}.hint", block["hint"], INPUT_LABEL, plain_only=True)
            self.element(f"{where}.element", block.get("element", {}))
        elif kind == "markdown":
            self.at_most(f"{where}.text", "text length", len(str(block.get("text", ""))), MARKDOWN_BLOCK_TEXT)
        elif kind != "divider":
            self.found.append(Violation(where, f"block type {kind!r} not checked by PASS", 0, 0))

    def blocks(self, blocks: Sequence[Mapping[str, Any]], limit: int) -> None:
        self.at_most("blocks", "blocks", len(blocks), limit)
        for i, block in enumerate(blocks):
            self.block(f"blocks[{i}]", block)


def check_message(message: Mapping[str, Any]) -> list[Violation]:
    """A chat.postMessage / chat.update / chat.postEphemeral / respond payload."""
    checker = _Checker()
    text = str(message.get("text") or "")
    checker.at_most("text", "text length", len(text), MESSAGE_TEXT)
    blocks = message.get("blocks") or []
    if blocks and not text.strip():
        # Without fallback text, notifications and screen readers show nothing useful.
        checker.found.append(Violation("text", "fallback text missing beside blocks", 1, 0))
    checker.blocks(blocks, MESSAGE_BLOCKS)
    return checker.found


def check_view(view: Mapping[str, Any]) -> list[Violation]:
    """A views.open / views.update modal."""
    checker = _Checker()
    checker.text("title", view.get("title"), MODAL_TITLE, plain_only=True)
    for key in ("submit", "close"):
        if key in view:
            checker.text(key, view[key], MODAL_BUTTON, plain_only=True)
    checker.at_most("private_metadata", "length", len(str(view.get("private_metadata", ""))), PRIVATE_METADATA)
    checker.at_most("callback_id", "length", len(str(view.get("callback_id", ""))), ACTION_ID)
    checker.blocks(view.get("blocks") or [], MODAL_BLOCKS)
    return checker.found
