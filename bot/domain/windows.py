"""Time windows typed by people: `7d`, `24h`, `90m`, or an ISO date / date-time (pure)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from bot.errors import BadInput

_RELATIVE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNIT = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_window(text: str) -> timedelta:
    """`7d` → 7 days. Raises BadInput with the accepted forms."""
    match = _RELATIVE.match(text.lower())
    if not match or int(match.group(1)) == 0:
        raise BadInput(f"not a time window: {text!r} (use e.g. 90m, 24h, 7d, 4w)")
    return timedelta(**{_UNIT[match.group(2)]: int(match.group(1))})


def parse_since(text: str, *, now: datetime) -> datetime:
    """A point in time: relative to `now` (`24h` = 24 hours ago) or ISO 8601.

    A date means its midnight UTC; a date-time without an offset is taken as UTC, because audit
    times are stored in UTC and a SIEM export must not depend on the exporting machine's zone.
    """
    if _RELATIVE.match(text.lower()):
        return now - parse_window(text)
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        try:
            day = date.fromisoformat(text.strip())
        except ValueError:
            raise BadInput(
                f"not a time: {text!r} (use an ISO time like 2024-05-01T09:00:00Z, a date, or 24h / 7d)"
            ) from None
        parsed = datetime(day.year, day.month, day.day)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
