"""Metrics as people read them, in Slack and at the terminal: "0.17s", "42m", "67%", "1,500" (pure).

A figure in a digest or `stats` is a summary, so a duration is rounded to its largest unit ("42m",
"2h 05m"); a run's own elapsed time on its card reads like a clock instead (`mrkdwn.duration`).
"""

from __future__ import annotations

from datetime import timedelta


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


def since(delta: timedelta) -> str:
    return duration(delta.total_seconds())


def percent(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:.0f}%"


def number(value: float) -> str:
    return f"{value:,.0f}"
