"""Run states and the state machine.

Only the edges below exist; anything else raises `IllegalTransition`. The store applies a
transition as one atomic compare-and-set, so two workers can never both move one run.
"""

from __future__ import annotations

from enum import Enum

from bot.errors import IllegalTransition


class RunStatus(str, Enum):
    QUEUED = "queued"
    CHECKING = "checking"
    PLANNING = "planning"
    VERIFYING = "verifying"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    SYNCING = "syncing"
    SYNCED = "synced"
    REJECTED = "rejected"
    BLOCKED = "blocked"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL

    @property
    def in_progress(self) -> bool:
        """A worker owns the run right now (it may need recovery if that worker dies)."""
        return self in {RunStatus.CHECKING, RunStatus.PLANNING, RunStatus.VERIFYING, RunStatus.SYNCING}


TERMINAL = frozenset(
    {
        RunStatus.SYNCED,
        RunStatus.REJECTED,
        RunStatus.BLOCKED,
        RunStatus.FAILED,
        RunStatus.EXPIRED,
        RunStatus.CANCELLED,
    }
)

_S = RunStatus
# checking/planning/verifying -> queued: the worker driving the run stopped (handed back on
# SIGTERM, or its lease lapsed) and planning starts again on another worker; planning writes
# nothing outside PASS, so starting it over is safe.
TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    _S.QUEUED: frozenset({_S.CHECKING, _S.FAILED, _S.CANCELLED}),
    _S.CHECKING: frozenset({_S.PLANNING, _S.BLOCKED, _S.FAILED, _S.CANCELLED, _S.QUEUED}),
    _S.PLANNING: frozenset({_S.VERIFYING, _S.BLOCKED, _S.FAILED, _S.CANCELLED, _S.QUEUED}),
    _S.VERIFYING: frozenset({_S.AWAITING_APPROVAL, _S.BLOCKED, _S.FAILED, _S.CANCELLED, _S.QUEUED}),
    _S.AWAITING_APPROVAL: frozenset({_S.APPROVED, _S.REJECTED, _S.EXPIRED, _S.CANCELLED, _S.FAILED}),
    _S.APPROVED: frozenset({_S.SYNCING, _S.FAILED}),
    # syncing -> blocked: a requirement (token, scope) vanished between approval and sync.
    _S.SYNCING: frozenset({_S.SYNCED, _S.FAILED, _S.BLOCKED}),
    # A failed sync may be resumed: it goes back to approved and resumes without duplicates.
    _S.FAILED: frozenset({_S.APPROVED}),
    _S.SYNCED: frozenset(),
    _S.REJECTED: frozenset(),
    _S.BLOCKED: frozenset(),
    _S.EXPIRED: frozenset(),
    _S.CANCELLED: frozenset(),
}


def can_transition(current: RunStatus, target: RunStatus) -> bool:
    return target in TRANSITIONS[current]


def check_transition(current: RunStatus, target: RunStatus) -> None:
    if not can_transition(current, target):
        raise IllegalTransition(current.value, target.value)
