"""A planner that takes its time, so a test can stop a worker while a run is planning.

It runs where every planner runs, in the sandboxed agent (imported there by "module:attr"), and
sleeps the seconds a PRD asks for in a `<!-- pass-test-sleep: N -->` comment before planning
like the heuristic planner.
"""

from __future__ import annotations

import asyncio
import re

from bot.domain.models import Prd
from bot.planner.heuristic import HeuristicPlanner
from bot.planner.port import PlanningContext, PlanOutcome

SLEEP = re.compile(r"<!--\s*pass-test-sleep:\s*([\d.]+)\s*-->")


def slow_prd(text: str, seconds: float) -> str:
    return f"{text}\n<!-- pass-test-sleep: {seconds} -->\n"


class SlowPlanner:
    name = "heuristic"

    async def plan(self, prd: Prd, context: PlanningContext) -> PlanOutcome:
        found = SLEEP.search(prd.text)
        if found:
            await asyncio.sleep(float(found.group(1)))
        return await HeuristicPlanner().plan(prd, context)
