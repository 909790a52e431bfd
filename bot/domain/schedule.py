"""Digest slots: the cron times a schedule fires at, in its own time zone (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter


def latest_slot(cron: str, zone: ZoneInfo, now: datetime) -> datetime:
    """The most recent slot at or before `now`, in UTC. A slot exactly at `now` counts."""
    # get_prev is strictly before its start, so start one second after `now` (whole seconds:
    # cron has no finer grain, and 08:59:59.5 must not round up into the 09:00 slot).
    start = now.astimezone(zone).replace(microsecond=0) + timedelta(seconds=1)
    previous: datetime = croniter(cron, start).get_prev(datetime)
    return previous.astimezone(UTC)


def slot_before(cron: str, zone: ZoneInfo, slot: datetime) -> datetime:
    """The slot preceding `slot` (the default start of a first digest's period)."""
    previous: datetime = croniter(cron, slot.astimezone(zone)).get_prev(datetime)
    return previous.astimezone(UTC)
