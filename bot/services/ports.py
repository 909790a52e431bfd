"""Ports the services depend on. Adapters implement them; tests use small recording fakes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from bot.domain.models import RequirementCheck, Run, SyncResult

# Called with (done, total) as issues are written, so a card can show progress on long syncs.
SyncProgress = Callable[[int, int], Awaitable[None]]

# Queues one kind of job for a run (`SaqJobQueue.enqueue_execute`, the sync job, a test's recorder).
# A callable, not the queue: the use case names its job, and saq stays out of the CLI's imports.
QueueRunJob = Callable[[str], Awaitable[object]]


class Syncer(Protocol):
    """Writes an approved run's backlog to its target (GitHub, or a dry run on disk)."""

    @property
    def target_kind(self) -> str: ...

    async def check_requirements(self, run: Run) -> list[RequirementCheck]:
        """Every precondition of syncing this run, each with the exact fix when missing."""
        ...

    async def sync(self, run: Run, progress: SyncProgress | None = None) -> SyncResult:
        """Idempotent: calling it again after a crash creates nothing twice."""
        ...


class ApproverDirectory(Protocol):
    """Who belongs to which approver group (Slack user groups: bot/adapters/slack_approver_directory.py)."""

    async def member_of(self, user: str, groups: Sequence[str]) -> frozenset[str]:
        """The groups among `groups` that `user` is in. A lookup that fails counts as not a
        member (fail closed)."""
        ...
