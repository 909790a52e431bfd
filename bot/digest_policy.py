"""`policies/digests.yml`: where and when digests are posted, typed and validated.

A missing file means no scheduled digests (on-demand ones still work). An invalid cron
expression or time zone stops start-up with a `ConfigError` naming the file and line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.policies import _load_file

DIGESTS_FILE = "digests.yml"


class _Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DigestSchedule(_Policy):
    # Slack channel id (C…) the digest is posted to.
    channel: str = Field(min_length=1)
    # Five-field cron expression, read in `timezone` ("0 9 * * 1-5" = weekdays at 09:00).
    cron: str
    # IANA time zone name; slots and "today" follow its daylight-saving changes.
    timezone: str = "UTC"
    # "all": every run; "channel": only runs requested from this channel.
    runs: Literal["all", "channel"] = "all"

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(f"not a five-field cron expression: {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone: {value!r} (use an IANA name like Europe/Berlin)") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class DigestPolicy(_Policy):
    schedules: list[DigestSchedule] = Field(default_factory=list)
    # An approval waiting longer than this gets a nudge mentioning the allowed approvers.
    nudge_after_hours: float = Field(default=24, gt=0)
    # Tokens (prompt + completion) the team means to spend per day; 0 = no budget shown.
    daily_token_budget: int = Field(default=0, ge=0)
    # A digest posted more than this after its slot says that it is late, and by how much.
    late_after_minutes: float = Field(default=15, gt=0)
    # How many of the most common failure causes to list.
    failure_causes: int = Field(default=5, ge=0, le=20)

    def for_channel(self, channel: str) -> DigestSchedule | None:
        return next((s for s in self.schedules if s.channel == channel), None)


def load_digest_policy(policy_dir: Path) -> DigestPolicy:
    path = policy_dir / DIGESTS_FILE
    return _load_file(path, DigestPolicy) if path.exists() else DigestPolicy()
