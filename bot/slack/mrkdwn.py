"""Text that goes into Slack: escaped, redacted and clipped (pure).

PRD and plan text is data: `&`, `<` and `>` are escaped so that a PRD cannot ping `<!channel>` or
forge a link, and anything that looks like a secret is redacted before it is shown.
"""

from __future__ import annotations

import re
from datetime import datetime

from bot.domain.secrets import redact

ELLIPSIS = "…"


def esc(text: str) -> str:
    """Untrusted text made safe for mrkdwn (and redacted)."""
    return redact(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary when one is near."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.7:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def one_line(text: str) -> str:
    return " ".join(text.split())


def user(user_id: str) -> str:
    """A Slack mention for a Slack user id; other actors (cli:alice, github-push) as plain text."""
    if user_id[:1] in {"U", "W"} and user_id[1:].isalnum() and user_id.isupper():
        return f"<@{user_id}>"
    return f"`{esc(user_id)}`"


def date(at: datetime) -> str:
    """Shown in each reader's own time zone by Slack; the ISO time is the fallback."""
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} at {{time}}|{at.isoformat(timespec='seconds')}>"


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def link(url: str, label: str) -> str:
    return f"<{url}|{esc(label).replace('|', '¦')}>"


_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*$")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_TASK = re.compile(r"^[-*+]\s+\[([ xX])\]\s+")
_BULLET = re.compile(r"^[-*+]\s+")
_MD_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")


def from_markdown(text: str) -> str:
    """GitHub markdown (an issue body) as compact Slack mrkdwn, escaped and redacted: headings and
    `**bold**` become `*bold*`, bullets `•`, task boxes ☐/☑, `[label](url)` shows both as text
    (PRD text never makes a link); blank lines go (a card holds many items)."""
    lines: list[str] = []
    for raw in esc(text).splitlines():
        line = raw.strip()
        if not line:
            continue
        if task := _TASK.match(line):
            line = ("☑ " if task.group(1) != " " else "☐ ") + line[task.end() :]
        elif heading := _HEADING.match(line):
            line = f"*{heading.group(1)}*"
        elif _BULLET.match(line):
            line = "• " + _BULLET.sub("", line, count=1)
        line = _BOLD.sub(r"*\2*", line)
        lines.append(_MD_LINK.sub(r"\1 (\2)", line))
    return "\n".join(lines)
