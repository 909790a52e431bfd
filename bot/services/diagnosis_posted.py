"""Stamping when a failure's diagnosis reached the person: the end of time-to-diagnosis.

Whoever delivers the diagnosis (the Slack notifier after posting the failure to the thread)
calls this once; the stamp and its audit event are one step, like every change to a run.
"""

from __future__ import annotations

from datetime import datetime

from bot.domain.models import Actor, Run, utcnow
from bot.errors import TransitionConflict
from bot.services.ports import RunStore

_ATTEMPTS = 3


async def mark_diagnosis_posted(store: RunStore, run_id: str, *, where: str, at: datetime | None = None) -> Run:
    """Set `failure.diagnosed_at` (first post only). `where` says where it went, e.g. `slack:C1/1700.1`."""
    moment = at or utcnow()

    def stamp(run: Run) -> Run:
        if run.failure is None or run.failure.diagnosed_at is not None:
            return run
        return run.model_copy(update={"failure": run.failure.model_copy(update={"diagnosed_at": moment})})

    for attempt in range(_ATTEMPTS):
        current = await store.get(run_id)
        if current.failure is None or current.failure.diagnosed_at is not None:
            return current
        try:
            return await store.transition(
                run_id,
                current.status,
                None,
                actor=Actor.SYSTEM,
                actor_id="pass",
                action="diagnosis.posted",
                mutate=stamp,
                detail={"where": where, "step": current.failure.step},
            )
        except TransitionConflict:
            # The run moved on meanwhile (e.g. a retry); stamp it in its new state.
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
