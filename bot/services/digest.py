"""Scheduled and on-demand digests: which slot is due, who sends it, and sending it once.

`send_due(now)` is meant to be ticked every minute by every worker (a saq cron job). For each
schedule it takes the latest cron slot at or before `now`:
- already sent (the channel's last-sent slot is at or after it): nothing to do;
- not claimed yet: one worker wins the Redis SET NX claim for (channel, slot) and posts it;
- more than `late_after_minutes` past the slot (PASS was down): posted once, saying it is late.
  Only the latest slot is ever considered, so a long outage yields one late digest, not a flood;
- a schedule that has never posted and whose latest slot is already late (it was just added):
  skipped; its first digest is its next slot.
A send that fails gives its claim back, so the next tick retries; a worker killed mid-send
holds only a lease (bot/adapters/redis_digest_ledger.py) that runs out, and another worker
sends the slot. (If Slack stored the message but its answer was lost, that retry posts a
second copy: a duplicate is better than silence.)
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.digest_policy import DigestPolicy, DigestSchedule
from bot.domain.digest import Digest, assemble_digest
from bot.domain.models import Run, utcnow
from bot.domain.schedule import latest_slot, slot_before
from bot.errors import PassError
from bot.logging import get_logger
from bot.policies import ApprovalPolicy

log = get_logger("pass.digest")

# Runs older than this are not loaded for a digest: waiting approvals expire well before it.
LOOKBACK = timedelta(days=30)
MAX_RUNS = 10_000


class DigestNotSent(PassError):
    """Slack refused or did not answer; the message says why (never the token)."""


class DigestSender(Protocol):
    async def post(self, digest: Digest) -> None:
        """Render the digest (Slack: bot/slack/digest_blocks.py) and post it to `digest.channel`;
        `DigestNotSent` when it was refused or not answered."""
        ...


class RunSource(Protocol):
    async def list_runs(self, *, limit: int = ..., since: datetime | None = None) -> list[Run]: ...


class DigestLedger(Protocol):
    async def claim(self, channel: str, slot: datetime, owner: str) -> bool: ...
    async def release(self, channel: str, slot: datetime, owner: str) -> None: ...
    async def mark_sent(self, channel: str, slot: datetime, until: datetime) -> None: ...
    async def last_sent(self, channel: str) -> tuple[datetime, datetime] | None: ...


@dataclass(frozen=True)
class DigestSent:
    channel: str
    digest: Digest
    slot: datetime | None
    late: bool


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class DigestService:
    def __init__(
        self,
        runs: RunSource,
        ledger: DigestLedger,
        sender: DigestSender,
        policy: DigestPolicy,
        approvals: ApprovalPolicy,
        *,
        worker_id: str | None = None,
    ) -> None:
        self._runs = runs
        self._ledger = ledger
        self._sender = sender
        self._policy = policy
        self._approvals = approvals
        self._worker = worker_id or worker_identity()

    async def send_due(self, now: datetime | None = None) -> list[DigestSent]:
        """Post every digest whose slot is due and not yet sent. Returns what this worker sent."""
        moment = now or utcnow()
        sent: list[DigestSent] = []
        for schedule in self._policy.schedules:
            outcome = await self._send_slot(schedule, moment)
            if outcome is not None:
                sent.append(outcome)
        return sent

    async def _send_slot(self, schedule: DigestSchedule, now: datetime) -> DigestSent | None:
        slot = latest_slot(schedule.cron, schedule.zone, now)
        last = await self._ledger.last_sent(schedule.channel)
        if last is not None and last[0] >= slot:
            return None
        late_by = now - slot
        late = late_by > timedelta(minutes=self._policy.late_after_minutes)
        if late and last is None:
            return None
        if not await self._ledger.claim(schedule.channel, slot, self._worker):
            return None
        since = last[1] if last is not None else slot_before(schedule.cron, schedule.zone, slot)
        try:
            digest = await self._assemble(
                schedule, since=since, until=now, slot=slot, late_by=late_by if late else None
            )
            await self._post(digest)
        except DigestNotSent as refused:
            await self._ledger.release(schedule.channel, slot, self._worker)
            log.warning("digest.not_sent", channel=schedule.channel, slot=slot.isoformat(), reason=str(refused))
            return None
        except BaseException:
            await self._ledger.release(schedule.channel, slot, self._worker)
            raise
        await self._ledger.mark_sent(schedule.channel, slot, now)
        log.info("digest.sent", channel=schedule.channel, slot=slot.isoformat(), late=late, runs=digest.runs)
        return DigestSent(schedule.channel, digest, slot, late)

    async def send_now(self, channel: str, now: datetime | None = None) -> DigestSent:
        """`/pass digest`, `passbot digest --channel C`: post one now. The schedule is not moved;
        the period starts where the channel's last scheduled digest ended, else 24 hours ago."""
        digest = await self.preview(channel, now)
        await self._post(digest)
        return DigestSent(channel, digest, None, False)

    async def preview(self, channel: str, now: datetime | None = None) -> Digest:
        """What `send_now` would post, without posting it (`passbot digest --print`)."""
        moment = now or utcnow()
        last = await self._ledger.last_sent(channel)
        since = last[1] if last is not None else moment - timedelta(hours=24)
        # A channel without a schedule still gets a digest, in UTC, of every run.
        schedule = self._policy.for_channel(channel) or DigestSchedule(channel=channel, cron="0 9 * * *")
        return await self._assemble(schedule, since=since, until=moment, slot=None, late_by=None)

    async def _assemble(
        self,
        schedule: DigestSchedule,
        *,
        since: datetime,
        until: datetime,
        slot: datetime | None,
        late_by: timedelta | None,
    ) -> Digest:
        runs = await self._runs.list_runs(limit=MAX_RUNS, since=min(since, until - LOOKBACK))
        return assemble_digest(
            runs,
            channel=schedule.channel,
            since=since,
            until=until,
            zone=ZoneInfo(schedule.timezone),
            approvals=self._approvals,
            nudge_after=timedelta(hours=self._policy.nudge_after_hours),
            daily_token_budget=self._policy.daily_token_budget,
            top_causes=self._policy.failure_causes,
            only_channel=schedule.runs == "channel",
            slot=slot,
            late_by=late_by,
        )

    async def _post(self, digest: Digest) -> None:
        await self._sender.post(digest)
