"""The LLM planner: a PRD in, an architecture pack and a checked backlog out.

One run is: (summaries of a PRD too long for the context budget) -> a planning call with
structured output -> checks (schema, coverage of every requirement id, item safety) -> up to
`max_repair_rounds` repair calls with the problems fed back. Each call is metered first and
refused with `CostCapReached` when it could pass a cap: in-process by a `MeteredLlm` of its own,
in the sandbox (`in_sandbox`) by the parent's, on the far side of the broker. The model's output
can only ever become a proposed `Plan`: nothing in it is executed, and approval stays with people.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from bot.domain.cost import CostPolicy, estimate_tokens
from bot.domain.injection import find_agent_directives
from bot.domain.item_safety import CommandRefusal, default_command_refusal
from bot.domain.models import ArchitecturePack, Finding, Plan, Prd, Severity
from bot.errors import ConfigError, CostCapReached, LlmError, LlmOutputInvalid, LlmRefused
from bot.logging import get_logger
from bot.planner.costs import SpendLedger, utc_today
from bot.planner.llm_schema import PLAN_SCHEMA, SUMMARY_SCHEMA, LlmChunkSummary
from bot.planner.metered import MeteredLlm, RunLlm, UsageTally, prompt_chars
from bot.planner.output_check import OutputCheck, check_output
from bot.planner.port import ChatMessage, Completion, LlmClient, PlanningContext, PlanOutcome
from bot.planner.prompts import (
    PrdView,
    new_nonce,
    plan_messages,
    repair_messages,
    requirements_json,
    split_for_summary,
    summary_messages,
)

log = get_logger(__name__)


@dataclass(frozen=True)
class PlannerLimits:
    # Output budget of the planning call; also what the cost estimate assumes it may use.
    max_output_tokens: int = 8_000
    # Prompt budget of one call. A PRD that does not fit is summarised in parts first.
    context_budget_tokens: int = 24_000
    summary_max_tokens: int = 1_200


class OpenAIPlanner:
    def __init__(
        self,
        llm: LlmClient,
        model: str,
        costs: CostPolicy | None,
        *,
        ledger: SpendLedger | None = None,
        limits: PlannerLimits | None = None,
        command_refusal: CommandRefusal = default_command_refusal,
        today: Callable[[], date] = utc_today,
    ) -> None:
        """`costs` None (explicitly) means `llm` is already metered where it leads: the sandbox's
        parent prices and caps each call, and this planner only adds up what it is told."""
        self._llm = llm
        self._metered = MeteredLlm(llm, model, costs, ledger=ledger, today=today) if costs is not None else None
        self._model = model
        self._limits = limits or PlannerLimits()
        self._command_refusal = command_refusal

    @property
    def name(self) -> str:
        return f"openai:{self._model}"

    async def plan(self, prd: Prd, context: PlanningContext) -> PlanOutcome:
        findings = find_agent_directives(prd.text)
        if not prd.requirements:
            # Nothing to plan against (a template or an empty PRD): asking a model would invent a backlog.
            findings.append(
                Finding(
                    check="no_requirements",
                    severity=Severity.ERROR,
                    message="the PRD has no requirements PASS could read, so no model was asked to plan it",
                )
            )
            return PlanOutcome(plan=Plan(summary="", architecture=ArchitecturePack(), items=[]), findings=findings)
        llm = self._metered.for_run(context.workspace) if self._metered is not None else UsageTally(self._llm)
        try:
            check, rounds, notes = await self._plan(prd, context, llm)
        except (LlmError, CostCapReached) as exc:
            exc.usage = llm.usage  # spend is shown on every run, the stopped ones too
            raise
        assert check.plan is not None
        findings += notes + check.findings
        log.info(
            "llm_plan",
            model=self._model,
            run_id=context.run_id,
            items=len(check.plan.items),
            repair_rounds=rounds,
            unresolved=len(check.findings),
            cost_usd=llm.usage.cost_usd,
        )
        return PlanOutcome(plan=check.plan, usage=llm.usage, findings=findings, retries=rounds)

    async def _plan(
        self, prd: Prd, context: PlanningContext, llm: RunLlm | UsageTally
    ) -> tuple[OutputCheck, int, list[Finding]]:
        nonce = new_nonce()
        budget_chars = self._limits.context_budget_tokens * 4
        requirements_block = requirements_json(prd.requirements, max_chars=budget_chars // 3)
        repo_context = context.repo_context
        notes: list[Finding] = []
        if len(repo_context) > budget_chars // 6:
            repo_context = repo_context[: budget_chars // 6] + "\n[… repository context cut to fit the budget]"
            notes.append(_info("context_truncated", "the repository context was cut to fit the model's context budget"))
        room = budget_chars - len(requirements_block) - len(repo_context) - 4_000  # system prompt and framing
        view = await self._prd_view(prd, room, nonce, llm)
        if view.summarised_parts:
            notes.append(
                _info(
                    "prd_summarised",
                    f"the PRD ({len(prd.text):,} characters) is longer than the model's context budget; "
                    f"it was summarised in {view.summarised_parts} parts, and all {len(prd.requirements)} "
                    f"requirement ids were passed to the model in full",
                )
            )
        base = plan_messages(
            nonce=nonce,
            view=view,
            requirements_block=requirements_block,
            repo_context=repo_context,
            max_items=context.max_items,
        )
        messages = base
        rounds = 0
        while True:
            completion = await self._call(llm, messages, PLAN_SCHEMA, self._limits.max_output_tokens)
            check = check_output(
                completion.content, prd, max_items=context.max_items, command_refusal=self._command_refusal
            )
            if check.ok:
                break
            problems = check.problems()
            if rounds >= context.max_repair_rounds:
                if check.plan is None:
                    raise LlmOutputInvalid(rounds, problems)
                break  # a readable plan with problems: shown as error findings, never published as is
            rounds += 1
            log.info("llm_repair", model=self._model, run_id=context.run_id, round=rounds, problems=problems[:10])
            messages = repair_messages(base, completion.content, problems)
        if rounds:
            notes.append(_info("planner_repairs", f"the model's plan needed {rounds} repair round(s)"))
        return check, rounds, notes

    async def _prd_view(self, prd: Prd, room_chars: int, nonce: str, llm: LlmClient) -> PrdView:
        if len(prd.text) <= room_chars:
            return PrdView(title=prd.title, body=prd.text)
        ids = [r.id for r in prd.requirements]
        # Each part is summarised to at most summary_max_tokens; parts are sized so that all the
        # summaries together fit where the full text did not.
        part_chars = max(2_000, min(room_chars, self._limits.context_budget_tokens * 4 // 2))
        parts = split_for_summary(prd.text, part_chars)
        summaries: list[str] = []
        for index, part in enumerate(parts, start=1):
            messages = summary_messages(nonce=nonce, part=part, index=index, total=len(parts), requirement_ids=ids)
            completion = await self._call(llm, messages, SUMMARY_SCHEMA, self._limits.summary_max_tokens)
            summaries.append(f"### Part {index} of {len(parts)}\n{_summary_text(completion, part)}")
        return PrdView(title=prd.title, body="\n\n".join(summaries), summarised_parts=len(parts))

    async def _call(
        self, llm: LlmClient, messages: list[ChatMessage], schema: dict[str, object], max_tokens: int
    ) -> Completion:
        completion = await llm.complete(messages, json_schema=schema, max_tokens=max_tokens)
        if completion.refusal:
            raise LlmRefused(completion.refusal)
        log.debug(
            "llm_call",
            model=self._model,
            prompt_tokens=completion.usage.prompt_tokens,
            completion_tokens=completion.usage.completion_tokens,
            estimated_prompt_tokens=estimate_tokens(prompt_chars(messages, schema)),
            cost_usd=completion.usage.cost_usd,
        )
        return completion


def in_sandbox(llm: LlmClient, model: str | None) -> OpenAIPlanner:
    """The agent's factory (`SandboxedPlanner(planner="bot.planner.openai_planner:in_sandbox")`):
    `llm` is the broker's proxy, metered by the parent, so this planner holds no cost policy."""
    if not model:
        raise ConfigError("the sandboxed OpenAI planner needs the model name in its job")
    return OpenAIPlanner(llm, model, None)


def _summary_text(completion: Completion, part: str) -> str:
    try:
        summary = LlmChunkSummary.model_validate_json(completion.content)
    except ValueError:
        # A summary that cannot be read falls back to the part itself, cut to its share: the
        # requirement ids still travel in full, and coverage is checked on the plan.
        return part[:2_000] + ("\n[… cut]" if len(part) > 2_000 else "")
    return summary.summary


def _info(check: str, message: str) -> Finding:
    return Finding(check=check, severity=Severity.INFO, message=message)
