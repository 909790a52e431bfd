"""Small pure helpers for report-style Block Kit (digests, stats) that stays inside Slack's limits.

Limits (realdata/slack/SLACK_FACTS.md): 50 blocks per message, section text 3000 characters,
at most 10 section fields of 2000 each, header text 150, context at most 10 elements.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

Block = dict[str, Any]

MAX_BLOCKS = 50
SECTION_TEXT = 3000
FIELD_TEXT = 2000
MAX_FIELDS = 10
HEADER_TEXT = 150
CONTEXT_ELEMENTS = 10


def escape(text: str) -> str:
    """Untrusted text (PRD titles, names) as literal mrkdwn: no `<!channel>`, no fake links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, HEADER_TEXT), "emoji": True}}


def section(markdown: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(markdown, SECTION_TEXT)}}


def fields(pairs: list[tuple[str, str]]) -> Block:
    return {
        "type": "section",
        "fields": [{"type": "mrkdwn", "text": clip(f"*{k}*\n{v}", FIELD_TEXT)} for k, v in pairs[:MAX_FIELDS]],
    }


def context(*texts: str) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": clip(t, SECTION_TEXT)} for t in texts[:CONTEXT_ELEMENTS]],
    }


def divider() -> Block:
    return {"type": "divider"}


def lines_section(lines: list[str], *, more: str = "…and {n} more") -> Block:
    """As many whole lines as fit in one section; the rest summarised as "…and N more"."""
    reserve = len(more) + 12  # room for the summary line, whatever N is
    kept: list[str] = []
    used = 0
    for index, raw in enumerate(lines):
        line = clip(raw, SECTION_TEXT // 3)
        if used + len(line) + 1 > SECTION_TEXT - reserve:
            kept.append(more.format(n=len(lines) - index))
            break
        kept.append(line)
        used += len(line) + 1
    return section("\n".join(kept))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(seconds, 0.0)
    if seconds == 0:
        return "0s"
    if seconds < 0.01:
        return "under 0.01s"
    if seconds < 10:
        # A quick run is 0.17s, not "0s".
        return f"{seconds:.2g}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 48 * 3600:
        hours, rest = divmod(int(seconds), 3600)
        return f"{hours}h {rest // 60:02d}m" if rest // 60 else f"{hours}h"
    return f"{seconds / 86400:.1f}d"


def since_text(delta: timedelta) -> str:
    return duration(delta.total_seconds())


def percent(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:.0f}%"


def number(value: float) -> str:
    return f"{value:,.0f}"
