"""Slack's Block Kit limits, checked two ways: slack_sdk's own model validators, and the numbers
from realdata/slack/SLACK_FACTS.md written out (some, like 50 blocks per message, only the docs state)."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import Block

MAX_BLOCKS = 50
MESSAGE_TEXT = 40_000


def problems(blocks: list[dict[str, Any]], text: str = "") -> list[str]:
    found: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        found.append(f"{len(blocks)} blocks (max {MAX_BLOCKS})")
    if len(text) > MESSAGE_TEXT:
        found.append(f"text of {len(text)} chars (max {MESSAGE_TEXT})")
    if not text.strip():
        found.append("no fallback text (notifications would be empty)")
    json.dumps(blocks)  # must serialise as it is sent
    for index, block in enumerate(blocks):
        kind = block.get("type")
        where = f"block {index} ({kind})"
        if len(block.get("block_id", "")) > 255:
            found.append(f"{where}: block_id over 255")
        if kind == "header":
            if block["text"]["type"] != "plain_text" or len(block["text"]["text"]) > 150:
                found.append(f"{where}: header must be plain_text ≤ 150")
        elif kind == "section":
            if "text" not in block and "fields" not in block:
                found.append(f"{where}: section needs text or fields")
            if len(block.get("text", {}).get("text", "")) > 3000:
                found.append(f"{where}: section text over 3000")
            section_fields = block.get("fields", [])
            if len(section_fields) > 10:
                found.append(f"{where}: {len(section_fields)} fields (max 10)")
            found += [f"{where}: field over 2000" for f in section_fields if len(f["text"]) > 2000]
            if any(not f["text"].strip() for f in section_fields) or ("text" in block and not block["text"]["text"]):
                found.append(f"{where}: empty text")
        elif kind == "context":
            if not 1 <= len(block["elements"]) <= 10:
                found.append(f"{where}: context needs 1 to 10 elements")
        elif kind != "divider":
            found.append(f"{where}: unexpected block type")
        try:
            Block.parse(block).validate_json()  # type: ignore[union-attr]
        except Exception as exc:
            found.append(f"{where}: slack_sdk says {exc}")
    return found
