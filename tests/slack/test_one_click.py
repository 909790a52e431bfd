"""One Approve click is one use case: the run is read once before its compare-and-set.

Counted on the real redis-server with MONITOR: every command the server ran during the click.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from bot.adapters.redis_store import run_key
from bot.domain.status import RunStatus
from bot.slack.actions import ActionId
from tests.helpers import PRDS
from tests.slack.conftest import APPROVER, Harness

TINY = (PRDS / "02_taskmaster_test_prd_tiny.md").read_text()
END = "one-click-end"


async def _commands_during_click(h: Harness, redis_client: aioredis.Redis, value: str) -> list[str]:
    """What Redis ran while the click was handled (the harness answers once the listener is done)."""
    seen: list[str] = []
    async with aioredis.Redis(connection_pool=redis_client.connection_pool).monitor() as monitor:
        await h.click(ActionId.APPROVE, value, user=APPROVER)
        # MONITOR streams in order: once this marker arrives, everything before it has too.
        await redis_client.echo(END)
        async for entry in monitor.listen():
            command = str(entry["command"])
            if END in command:
                return seen
            seen.append(command)
    return seen


async def test_an_approve_click_reads_the_run_once_then_compares_and_sets(
    harness: Harness, redis_client: aioredis.Redis
) -> None:
    await harness.command(f"plan {TINY}")
    await harness.drain()
    run = await harness.only_run()
    value = await harness.approve_value(run.run_id)

    commands = await _commands_during_click(harness, redis_client, value)

    key = run_key(run.run_id)
    watches = [i for i, c in enumerate(commands) if c.startswith("WATCH") and key in c.split()]
    assert len(watches) == 1, "one compare-and-set of the run"
    reads_before = [c for c in commands[: watches[0]] if c == f"GET {key}"]
    assert len(reads_before) == 1, f"the click read the run {len(reads_before)} times before its transaction"
    assert commands[watches[0] + 1] == f"GET {key}", "the compare-and-set reads the run under WATCH"
    assert (await harness.store.get(run.run_id)).status is RunStatus.APPROVED
    assert await harness.drain() == 1, "the sync was queued by the click"
