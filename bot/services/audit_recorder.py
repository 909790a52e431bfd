"""Sandbox and broker events (each request the agent makes and its decision) into the audit log.

The sandbox reports events as plain dicts (`RecordFn`); this turns each into one audit event on
the run store. The planner and the repo checks both record through it.
"""

from __future__ import annotations

from typing import Any

from bot.domain.models import Actor
from bot.sandbox.broker import RecordFn
from bot.services.ports import RunStore


def audit_recorder(store: RunStore) -> RecordFn:
    async def record(event: dict[str, Any]) -> None:
        detail = dict(event)
        action = str(detail.pop("event", "agent.event"))
        actor = Actor(str(detail.pop("actor", "agent")))
        run_id = detail.pop("run_id", None)
        await store.record(
            str(run_id) if run_id else None, actor=actor, actor_id="sandbox", action=action, detail=detail
        )

    return record
