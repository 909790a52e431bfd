"""What every planner offers the pipeline.

The heuristic planner runs in-process; the OpenAI planner runs behind the sandbox broker. Both
return a `PlanOutcome`, so the pipeline never knows which one it called.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from bot.domain.models import Finding, Plan, Prd, Usage


@dataclass(frozen=True)
class PlanningContext:
    run_id: str
    repo: str | None = None
    # Extra data the planner may read (repo files, earlier findings); always treated as data.
    repo_context: str = ""
    max_items: int = 60
    # Repair calls allowed after a model's first answer (policies/limits.yml `max_repair_rounds`).
    max_repair_rounds: int = 2
    # Who pays: the Slack team id (or "cli"); daily cost caps are per workspace.
    workspace: str = "default"


@dataclass
class PlanOutcome:
    plan: Plan
    usage: Usage = field(default_factory=Usage)
    findings: list[Finding] = field(default_factory=list)
    # Repair rounds the planner needed (each counts as a retry loop on the run).
    retries: int = 0
    # The sandbox level planning ran under ("bwrap", "unshare", "rlimits"); None when in-process.
    isolation: str | None = None


class Planner(Protocol):
    @property
    def name(self) -> str:
        """'heuristic' or 'openai:<model>': shown in every output."""
        ...

    async def plan(self, prd: Prd, context: PlanningContext) -> PlanOutcome: ...


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass
class Completion:
    """One LLM answer: raw text (JSON for structured calls) and its metered usage."""

    content: str
    usage: Usage
    model: str
    refusal: str | None = None


class LlmClient(Protocol):
    """The one way a planner reaches a model. In the sandbox it is a proxy to the parent's broker,
    which meters the call against the cost caps before it is made."""

    async def complete(
        self,
        messages: list[ChatMessage],
        *,
        json_schema: dict[str, object] | None = None,
        max_tokens: int = 4096,
    ) -> Completion: ...
