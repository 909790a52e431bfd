"""Ports the services depend on. Adapters implement them; tests use small recording fakes.

`RunStore` is bot/adapters/redis_store.py's `RedisRunStore`; `JobQueue` is bot/adapters/queue.py's
`SaqJobQueue`. Services, listeners and renderers name these Protocols, never the Redis classes, so
that only bot/bootstrap.py (the wiring) knows which store and queue a deployment runs on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from enum import Enum
from typing import Any, Protocol

from bot.domain.audit import AuditEvent
from bot.domain.models import Actor, RequirementCheck, Run, SyncResult
from bot.domain.status import RunStatus

# Called with (done, total) as issues are written, so a card can show progress on long syncs.
SyncProgress = Callable[[int, int], Awaitable[None]]

# Queues one kind of job for a run (`SaqJobQueue.enqueue_execute`, the sync job, a test's recorder).
# A callable, not the whole `JobQueue`: the use case says which job, the wiring how it is queued.
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


class RunStore(Protocol):
    """Runs, their dedupe keys and the hash-chained audit log. Every change is one atomic
    compare-and-set with its audit event; two writers racing on one run: exactly one wins, the
    other gets `TransitionConflict`. Redis not answering is `StoreUnavailable`."""

    async def ping(self) -> bool: ...

    async def create(
        self,
        run: Run,
        *,
        actor: Actor,
        actor_id: str,
        dedupe: str | tuple[str, ...] | None = None,
        detail: dict[str, Any] | None = None,
    ) -> tuple[Run, bool]:
        """Store a new run; with a dedupe key already used, that run instead (created=False)."""
        ...

    async def find(self, run_id: str) -> Run | None: ...

    async def get(self, run_id: str) -> Run:
        """The run, or `RunNotFound`."""
        ...

    async def list_runs(self, *, limit: int = 50, since: datetime | None = None) -> list[Run]:
        """Newest first."""
        ...

    async def ended_since(self, since: datetime) -> list[Run]: ...

    async def active_runs(self, *, limit: int = 10_000) -> list[Run]: ...

    async def transition(
        self,
        run_id: str,
        expected: RunStatus | set[RunStatus],
        target: RunStatus | Callable[[Run], RunStatus | None] | None,
        *,
        actor: Actor,
        actor_id: str,
        action: str,
        mutate: Callable[[Run], Run] | None = None,
        reason: str = "",
        detail: dict[str, Any] | None = None,
    ) -> Run:
        """Only if the run is in `expected`: apply `mutate` and move to `target` (None: update
        without a status change; a callable decides from the freshly read run)."""
        ...

    async def record(
        self,
        run_id: str | None,
        *,
        actor: Actor,
        actor_id: str,
        action: str,
        detail: dict[str, Any] | None = None,
        reason: str = "",
    ) -> AuditEvent:
        """An audit event that changes no run."""
        ...

    async def run_events(self, run_id: str) -> list[AuditEvent]:
        """One run's audit events, oldest first."""
        ...

    async def remember_synced_prd(self, prd_sha256: str, repo: str, run_id: str) -> None:
        """`run_id` synced this PRD (by sha256) to `repo`, so a re-run of it can say so."""
        ...

    async def last_synced_run(self, prd_sha256: str, repo: str) -> str | None:
        """The run that last synced this PRD to `repo` (repo names are case-insensitive)."""
        ...


class JobKind(str, Enum):
    EXECUTE_RUN = "execute_run"
    SYNC_RUN = "sync_run"
    # Not a run: `/pass verify owner/name`. Its "run id" is the Slack request's id.
    VERIFY_REPO = "verify_repo"

    @property
    def prefix(self) -> str:
        return self.value.removesuffix("_run")


class JobQueue(Protocol):
    """Long work (planning, syncing) leaves the request that asked for it. A job's key is
    `<kind>:<run_id>`: while one is pending, queueing the same key again is a no-op."""

    async def enqueue(self, kind: JobKind, run_id: str, *, delay_s: float = 0.0, **kwargs: Any) -> bool:
        """Queue `kind` for `run_id`; False when a job with that key is already pending."""
        ...

    async def close(self) -> None: ...


class ApproverDirectory(Protocol):
    """Who belongs to which approver group (Slack user groups: bot/adapters/slack_approver_directory.py)."""

    async def member_of(self, user: str, groups: Sequence[str]) -> frozenset[str]:
        """The groups among `groups` that `user` is in. A lookup that fails counts as not a
        member (fail closed)."""
        ...
