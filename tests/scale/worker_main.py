"""`passbot worker` with the slow test planner: `python -m tests.scale.worker_main [--concurrency N]`.

Everything but the planner is the production worker (`bot.entrypoints.worker.work` on `bot.bootstrap.build`);
the planner is still the sandboxed agent, loading `tests.scale.slow_planner:SlowPlanner` by name.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bot.bootstrap import build, build_command_policy
from bot.entrypoints.worker import work
from bot.logging import configure_logging
from bot.sandbox.sandboxed_planner import SandboxedPlanner
from bot.services.audit_recorder import audit_recorder
from bot.services.runs import RunService
from bot.settings import Settings


async def main(concurrency: int) -> None:
    settings = Settings()
    container = build(settings)
    planner = SandboxedPlanner(
        policy=build_command_policy(settings),
        record=audit_recorder(container.store),
        planner="tests.scale.slow_planner:SlowPlanner",
        name="heuristic",
        # The box shows PASS's package only; the test planner's folder is bound beside it.
        pythonpath=[Path(__file__).resolve().parent],
    )
    container.planner = planner
    container.runs = RunService(container.store, planner, container.syncer, container.policies)
    try:
        await work(container, concurrency=concurrency)
    finally:
        await container.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(main(args.concurrency))
