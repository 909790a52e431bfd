"""`start_run`, the one way every trigger starts a run: the new run's planning is queued once,
a redelivery returns the first run and queues nothing."""

from __future__ import annotations

from bot.domain.models import Source
from bot.domain.status import RunStatus
from bot.services.intake import start_run
from bot.services.runs import RunService
from tests.helpers import PRDS

TINY = (PRDS / "02_taskmaster_test_prd_tiny.md").read_bytes()


async def test_a_new_run_is_queued_and_a_redelivery_is_not(runs: RunService) -> None:
    queued: list[str] = []

    async def enqueue(run_id: str) -> None:
        queued.append(run_id)

    first, created = await start_run(runs, enqueue, TINY, source=Source.WEBHOOK, requester="hook", dedupe="d-1")
    again, created_again = await start_run(runs, enqueue, TINY, source=Source.WEBHOOK, requester="hook", dedupe="d-1")

    assert created and not created_again and again.run_id == first.run_id
    assert queued == [first.run_id]
    assert (await runs.store.get(first.run_id)).status is RunStatus.QUEUED
