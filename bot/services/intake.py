"""Starting a run, the one way every trigger does it: submit, then queue its planning.

Slack (`/pass plan`, `@PASS plan`, the message shortcut), the webhooks, the GitHub push hook and
the REST API all call `start_run`. A redelivery (its dedupe key already used) returns the first
run and queues nothing: that run's job was queued when it was created.
"""

from __future__ import annotations

from typing import Required, TypedDict, Unpack

from bot.domain.models import Run, Source
from bot.services.ports import QueueRunJob
from bot.services.runs import RunService

# Queues a run's planning job.
EnqueueExecute = QueueRunJob


class RunRequest(TypedDict, total=False):
    """What a trigger knows of the run it asks for (`RunService.submit`'s keywords)."""

    source: Required[Source]
    requester: Required[str]
    channel: str | None
    thread_ts: str | None
    repo: str | None
    # The delivery's idempotency key(s): the same one again starts no second run.
    dedupe: str | tuple[str, ...] | None
    workspace: str
    team_id: str | None
    on_behalf_of: str | None


async def start_run(
    runs: RunService, enqueue_execute: EnqueueExecute, raw: bytes | str, **request: Unpack[RunRequest]
) -> tuple[Run, bool]:
    """The run (created=True when this call made it) with its planning queued."""
    run, created = await runs.submit(raw, **request)
    if created:
        await enqueue_execute(run.run_id)
    return run, created
