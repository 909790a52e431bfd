"""Block Kit building blocks for every message PASS sends (pure): text objects, blocks, paging.

Each part clips its text to Slack's limits (bot/slack/limits.py), cutting at a word where it can
(`mrkdwn.clip`); long content is packed into as few sections as fit and split into titled pages,
or, in a report (digest, stats), kept to one section with the rest counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from bot.domain.secrets import redact
from bot.slack import limits
from bot.slack.mrkdwn import clip

Block = dict[str, Any]
Message = dict[str, Any]
View = dict[str, Any]

# Room under Slack's limits for the words around untrusted text.
SECTION_BUDGET = limits.SECTION_TEXT - 100
PAGE_BLOCKS = 45


# Every text object is redacted before it is clipped: a secret is never shown, not even cut short.
def plain(text: str, limit: int = limits.SECTION_TEXT) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(redact(text), limit) or " ", "emoji": True}


def mrkdwn(text: str, limit: int = limits.SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(redact(text), limit) or " "}


def section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(text)}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, limits.HEADER_TEXT)}


def fields(pairs: Sequence[tuple[str, str]]) -> Block:
    """A section of label/value pairs, each label bold above its value (Slack shows two columns)."""
    return {
        "type": "section",
        "fields": [mrkdwn(f"*{label}*\n{value}", limits.FIELD_TEXT) for label, value in pairs[: limits.SECTION_FIELDS]],
    }


def context(*parts: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(p) for p in parts[: limits.CONTEXT_ELEMENTS] if p]}


def divider() -> Block:
    return {"type": "divider"}


def message(text: str, blocks: list[Block]) -> Message:
    return {"text": clip(text, 300), "blocks": blocks}


def notice(text: str) -> Message:
    """A one-paragraph answer (mrkdwn already escaped by the caller where it holds user text)."""
    return message(text, [section(text)])


def line_sections(lines: Iterable[str], budget: int = SECTION_BUDGET) -> list[Block]:
    """Lines packed into as few sections as fit; a single over-long line is clipped."""
    out: list[Block] = []
    chunk = ""
    for line in lines:
        line = clip(line, budget)
        if chunk and len(chunk) + 1 + len(line) > budget:
            out.append(section(chunk))
            chunk = line
        else:
            chunk = f"{chunk}\n{line}" if chunk else line
    if chunk:
        out.append(section(chunk))
    return out


def lines_with_rest_counted(lines: Sequence[str], *, more: str = "…and {n} more") -> Block:
    """As many whole lines as fit in one section; the rest summarised as "…and N more"."""
    reserve = len(more) + 12  # room for the summary line, whatever N is
    kept: list[str] = []
    used = 0
    for index, raw in enumerate(lines):
        line = clip(raw, limits.SECTION_TEXT // 3)
        if used + len(line) + 1 > limits.SECTION_TEXT - reserve:
            kept.append(more.format(n=len(lines) - index))
            break
        kept.append(line)
        used += len(line) + 1
    return section("\n".join(kept))


def paged(title: str, blocks: list[Block], fallback: str) -> list[Message]:
    """Blocks split into messages under the block limit, each titled "page i of n"."""
    size = PAGE_BLOCKS - 1
    chunks = [blocks[i : i + size] for i in range(0, len(blocks), size)] or [[]]
    total = len(chunks)
    pages = []
    for number, chunk in enumerate(chunks, start=1):
        suffix = f" ({number} of {total})" if total > 1 else ""
        pages.append(message(f"{fallback}{suffix}", [section(f"*{title}*{suffix}"), *chunk]))
    return pages
