"""A `Planner` whose planning happens in the sandboxed agent process, behind the broker.

The pipeline calls it like any planner; inside, the real planner (heuristic, or the LLM
planner with a broker-proxied `LlmClient`) runs without credentials or network, and the
usage returned is what the broker metered, not what the agent claims.

With a `MeteredLlm`, each run gets its own metered client (the run's cap, the workspace's daily
cap), held here in the parent with the key. The errors it raises (`CostCapReached`, `LlmError`)
come out of `plan` as themselves, once the agent is stopped, so the pipeline blocks or fails the
run exactly as it does for an in-process planner.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.domain.models import Prd
from bot.planner.metered import MeteredLlm
from bot.planner.port import LlmClient, PlanningContext, PlanOutcome
from bot.sandbox.broker import AgentRun, Broker, RecordFn
from bot.sandbox.command_policy import CommandPolicy
from bot.sandbox.errors import IsolationBelowMinimum
from bot.sandbox.isolation import IsolationLevel, detect_isolation, isolation_requirement
from bot.sandbox.protocol import Job, JobContext
from bot.sandbox.runner import Limits

# Never copied into an agent workspace: history, environments and caches are not planning input.
WORKSPACE_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"
)


async def fresh_workspace(source: Path | None, parent: Path | None = None) -> Path:
    """A new private directory; a copy of `source` when given. The caller removes `.parent`."""
    root = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="passbot-ws-", dir=parent))
    workspace = root / "workspace"
    if source is None:
        await asyncio.to_thread(workspace.mkdir)
    else:
        await asyncio.to_thread(shutil.copytree, source, workspace, symlinks=True, ignore=WORKSPACE_IGNORE)
    return workspace


async def remove_workspace(workspace: Path) -> None:
    await asyncio.to_thread(shutil.rmtree, workspace.parent, True)


class SandboxedPlanner:
    def __init__(
        self,
        *,
        policy: CommandPolicy,
        record: RecordFn,
        planner: str = "heuristic",
        name: str | None = None,
        model: str | None = None,
        llm: MeteredLlm | LlmClient | None = None,
        repo_path: Path | None = None,
        level: IsolationLevel | None = None,
        limits: Limits | None = None,
        timeout_s: float | None = None,
        pythonpath: Sequence[Path] = (),
        workspace_parent: Path | None = None,
    ) -> None:
        self._planner = planner
        self._name = name or planner
        self._model = model
        self._policy = policy
        self._record = record
        self._llm = llm
        self._repo_path = repo_path
        self._level = level
        self._limits = limits
        self._timeout_s = timeout_s
        self._pythonpath = tuple(pythonpath)
        self._workspace_parent = workspace_parent
        self.last_run: AgentRun | None = None

    @property
    def name(self) -> str:
        return self._name

    async def isolation(self) -> IsolationLevel:
        return self._level if self._level is not None else await detect_isolation()

    async def plan(self, prd: Prd, context: PlanningContext) -> PlanOutcome:
        async def record(event: dict[str, Any]) -> None:
            # Every agent event names the run it belongs to, for the audit log.
            await self._record({"run_id": context.run_id, **event})

        level = await self.isolation()
        requirement = isolation_requirement(level, self._policy.sandbox.minimum)
        if not requirement.ok:
            await record({"event": "agent.blocked", "actor": "system", "requirement": requirement.name})
            raise IsolationBelowMinimum(requirement)
        # One metered client per run: the run cap counts this run's calls only.
        llm = self._llm.for_run(context.workspace) if isinstance(self._llm, MeteredLlm) else self._llm
        workspace = await fresh_workspace(self._repo_path, self._workspace_parent)
        try:
            broker = Broker(
                workspace=workspace,
                policy=self._policy,
                record=record,
                llm=llm,
                level=level,
                limits=self._limits,
                timeout_s=self._timeout_s,
                pythonpath=self._pythonpath,
            )
            job = Job(
                prd=prd,
                planner=self._planner,
                model=self._model,
                context=JobContext(
                    run_id=context.run_id,
                    repo=context.repo,
                    repo_context=context.repo_context,
                    max_items=context.max_items,
                    max_repair_rounds=context.max_repair_rounds,
                ),
            )
            run = await broker.run(job)
        finally:
            await remove_workspace(workspace)
        self.last_run = run
        return PlanOutcome(
            plan=run.result.plan,
            usage=run.usage,
            findings=list(run.result.findings),
            retries=run.result.retries,
            isolation=level.name.lower(),
        )
