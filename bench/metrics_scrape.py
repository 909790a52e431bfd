"""What one /metrics scrape and one digest cost with many runs in Redis (prints figures).

Every scrape rebuilds the registry from the stored runs, so its cost grows with the runs in the
30-day window. Run: `python bench/metrics_scrape.py [N ...]` (default 1000 5000).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.adapters.redis_server import connect
from bot.adapters.redis_store import RedisRunStore
from bot.domain.digest import assemble_digest
from bot.domain.metrics import metrics_summary
from bot.domain.models import Actor, Prd, Run, Usage, utcnow
from bot.domain.status import RunStatus
from bot.entrypoints.web.metrics import render_metrics
from bot.policies import ApprovalPolicy
from bot.slack.digest_blocks import digest_blocks

S = RunStatus
STEPS = [(S.CHECKING, 5), (S.PLANNING, 10), (S.VERIFYING, 60), (S.AWAITING_APPROVAL, 90)]


def _run(i: int) -> Run:
    created = utcnow() - timedelta(minutes=7 * i)
    run = Run(
        run_id=f"bench{i}",
        channel=f"C{i % 20}",
        repo=f"acme/r{i % 15}",
        prd=Prd(sha256="0" * 64, title=f"PRD {i}", requirements=[]),
        usage=Usage(prompt_tokens=4000 + i, completion_tokens=1500, cost_usd=0.02),
        created_at=created,
    )
    steps = STEPS + ([(S.APPROVED, 600), (S.SYNCING, 610), (S.SYNCED, 700)] if i % 3 else [])
    for status, offset in steps:
        run = run.moved(status, at=created + timedelta(seconds=offset), actor=Actor.SYSTEM)
    return run


async def bench(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        handle = connect(None, Path(tmp))
        store = RedisRunStore(handle.client)
        try:
            for i in range(n):
                await store.create(_run(i), actor=Actor.SYSTEM, actor_id="bench")
            t0 = time.perf_counter()
            runs = await store.list_runs(limit=100_000, since=utcnow() - timedelta(days=30))
            t1 = time.perf_counter()
            metrics_summary(runs, "30d")
            t2 = time.perf_counter()
            body = await render_metrics(store, None)
            t3 = time.perf_counter()
            now = utcnow()
            digest = assemble_digest(
                runs,
                channel="C1",
                since=now - timedelta(days=7),
                until=now,
                zone=ZoneInfo("UTC"),
                approvals=ApprovalPolicy(),
                nudge_after=timedelta(hours=24),
            )
            digest_blocks(digest)
            t4 = time.perf_counter()
            print(
                f"{n:>6} runs ({len(runs)} in 30 days): load {1000 * (t1 - t0):7.1f} ms · "
                f"metrics {1000 * (t2 - t1):7.1f} ms · /metrics scrape {1000 * (t3 - t2):7.1f} ms "
                f"({len(body) // 1024} KiB) · digest {1000 * (t4 - t3):6.1f} ms"
            )
        finally:
            await handle.close()


def main() -> None:
    for n in [int(a) for a in sys.argv[1:]] or [1000, 5000]:
        asyncio.run(bench(n))


if __name__ == "__main__":
    main()
