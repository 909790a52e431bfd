"""The OpenAI planner running in the sandboxed agent, its calls made and metered by the parent.

The agent holds no key and no network: it asks the broker, which calls the local OpenAI-compatible
server through a `MeteredLlm` (cost caps, spend ledger). Caps block the run with the artifact, API
errors fail it with the reason, usage is the parent's count, and every model call is an audit event.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.openai_client import OpenAILlmClient
from bot.adapters.redis_store import RedisRunStore
from bot.domain.audit import AuditEvent
from bot.domain.cost import CostPolicy
from bot.domain.models import Prd, Run, Source
from bot.domain.status import RunStatus
from bot.errors import LlmAuthError
from bot.planner.costs import InMemorySpendLedger, utc_today
from bot.planner.metered import MeteredLlm
from bot.planner.prd import parse_prd
from bot.policies import Limits, Policies
from bot.sandbox.broker import Broker
from bot.sandbox.command_policy import load_command_policy
from bot.sandbox.protocol import Job, JobContext
from bot.sandbox.sandboxed_planner import SandboxedPlanner
from bot.services.audit_recorder import audit_recorder
from bot.services.dry_run import DryRunSyncer
from bot.services.runs import RunService
from tests.helpers import FIXTURES, PRDS, assert_run_contract

from .conftest import MODEL, TEST_KEY, FakeOpenAI, Reply, api_error, completion, plan_json

TINY = (PRDS / "02_taskmaster_test_prd_tiny.md").read_bytes()
IDS = [r.id for r in parse_prd(TINY).requirements]
IN_SANDBOX = "bot.planner.openai_planner:in_sandbox"
AGENTS = FIXTURES / "sandbox" / "agents"


def capped(costs: CostPolicy, *, per_run: float | None = None, per_day: float | None = None) -> CostPolicy:
    caps = costs.caps.model_copy(
        update={k: v for k, v in {"per_run_usd": per_run, "per_day_usd": per_day}.items() if v is not None}
    )
    return costs.model_copy(update={"caps": caps})


def sandboxed_service(
    store: RedisRunStore,
    llm: OpenAILlmClient,
    costs: CostPolicy,
    tmp_path: Path,
    ledger: InMemorySpendLedger | None = None,
    policies: Policies | None = None,
) -> RunService:
    """Wired as bootstrap wires it: the sandboxed agent, the parent's metered client, the audit log."""
    planner = SandboxedPlanner(
        policy=load_command_policy(),
        record=audit_recorder(store),
        planner=IN_SANDBOX,
        model=MODEL,
        llm=MeteredLlm(llm, MODEL, costs, ledger=ledger or InMemorySpendLedger()),
        name=f"openai:{MODEL}",
        timeout_s=60,
    )
    return RunService(store, planner, DryRunSyncer(tmp_path / "runs", reason="test"), policies or Policies())


async def plan_tiny(runs: RunService, workspace: str = "default") -> Run:
    run, _ = await runs.submit(TINY, source=Source.CLI, requester="me", workspace=workspace)
    return await runs.execute(run.run_id)


async def agent_events(store: RedisRunStore, run_id: str) -> list[AuditEvent]:
    return [event for _, event in await store.audit_events(run_id=run_id) if event.action.startswith("agent.")]


def llm_requests(events: list[AuditEvent]) -> list[dict[str, Any]]:
    return [e.detail for e in events if e.action == "agent.request" and e.detail.get("type") == "llm.complete"]


async def test_the_plan_is_made_in_the_sandbox_with_the_parent_counting_and_auditing_each_call(
    store: RedisRunStore, fake_openai: FakeOpenAI, llm: OpenAILlmClient, costs: CostPolicy, tmp_path: Path
) -> None:
    fake_openai.then(completion(plan_json(IDS), prompt_tokens=1_200, completion_tokens=800))

    run = await plan_tiny(sandboxed_service(store, llm, costs, tmp_path))

    assert run.status is RunStatus.AWAITING_APPROVAL
    contract = run.contract()
    assert_run_contract(contract)
    assert contract["planner"] == f"openai:{MODEL}"
    assert contract["isolation"] in {"bwrap", "unshare", "rlimits"}
    assert run.plan is not None and [item.title for item in run.plan.items] == [f"Deliver {rid}" for rid in IDS]
    # Priced by the parent with the shipped costs.yml: gpt-4o-mini $0.15 / $0.60 per million.
    assert run.usage.prompt_tokens == 1_200 and run.usage.completion_tokens == 800
    assert run.usage.cost_usd == pytest.approx(1_200 * 0.15e-6 + 800 * 0.60e-6)
    # The key went from the parent to the endpoint, and the one call is in the audit log.
    [received] = fake_openai.received
    assert received.headers["Authorization"] == f"Bearer {TEST_KEY}"
    [call] = llm_requests(await agent_events(store, run.run_id))
    assert call["decision"] == "allowed" and call["usage"]["completion_tokens"] == 800


async def test_a_cost_cap_hit_in_the_sandbox_blocks_the_run_with_the_artifact_and_the_spend(
    store: RedisRunStore, fake_openai: FakeOpenAI, llm: OpenAILlmClient, costs: CostPolicy, tmp_path: Path
) -> None:
    # The first answer misses requirements, so the planner asks for a repair: the first call cost
    # $0.0033 and a repair could cost ~$0.005 more, past the $0.006 cap. The repair is never made.
    fake_openai.then(
        completion(plan_json(IDS[:1]), prompt_tokens=2_000, completion_tokens=5_000),
        completion(plan_json(IDS)),
    )

    run = await plan_tiny(sandboxed_service(store, llm, capped(costs, per_run=0.006), tmp_path))

    assert run.status is RunStatus.BLOCKED
    cap = next(c for c in run.requirements if c.name == "cost cap reached")
    assert not cap.ok and cap.fix is not None and "$0.0033" in cap.fix and "of its $0.0060 cap" in cap.fix
    assert run.usage.completion_tokens == 5_000 and run.usage.cost_usd == pytest.approx(0.0033)
    assert len(fake_openai.received) == 1
    events = await agent_events(store, run.run_id)
    assert [(c["decision"], c["rule"]) for c in llm_requests(events)] == [("allowed", "llm"), ("refused", "cost-cap")]
    assert [e.detail["reason"] for e in events if e.action == "agent.stopped"] == ["CostCapReached"]


async def test_the_daily_cap_is_the_runs_own_workspace(
    store: RedisRunStore, fake_openai: FakeOpenAI, llm: OpenAILlmClient, costs: CostPolicy, tmp_path: Path
) -> None:
    ledger = InMemorySpendLedger()
    await ledger.add("T-SPENT", utc_today().isoformat(), 0.999)
    runs = sandboxed_service(store, llm, capped(costs, per_day=1.0), tmp_path, ledger)
    fake_openai.then(completion(plan_json(IDS)))

    spent = await plan_tiny(runs, workspace="T-SPENT")
    fresh = await plan_tiny(runs, workspace="T-FRESH")

    assert spent.status is RunStatus.BLOCKED
    cap = next(c for c in spent.requirements if c.name == "cost cap reached")
    assert cap.fix is not None and "Workspace T-SPENT spent $0.9990 of its $1.00 daily cap" in cap.fix
    assert fresh.status is RunStatus.AWAITING_APPROVAL
    assert len(fake_openai.received) == 1  # only the fresh workspace's call was made


async def test_a_rejected_key_fails_the_run_naming_the_variable_and_the_key_is_nowhere(
    store: RedisRunStore, fake_openai: FakeOpenAI, llm: OpenAILlmClient, costs: CostPolicy, tmp_path: Path
) -> None:
    fake_openai.then(api_error(401, f"Incorrect API key provided: {TEST_KEY[:12]}****", code="invalid_api_key"))

    run = await plan_tiny(sandboxed_service(store, llm, costs, tmp_path))

    assert run.status is RunStatus.FAILED
    assert run.failure is not None and "OPENAI_API_KEY" in run.failure.message
    events = await store.audit_events(run_id=run.run_id)
    assert [e.detail["rule"] for _, e in events if e.detail.get("type") == "llm.complete"] == ["llm-error"]
    assert TEST_KEY[:12] not in run.model_dump_json()
    assert all(TEST_KEY[:12] not in event.model_dump_json() for _, event in events)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (api_error(429, "slow down", headers={"retry-after": "3600"}), "429"),
        (api_error(503, "overloaded"), "503"),
    ],
    ids=["429-long-retry-after", "5xx-after-retries"],
)
async def test_rate_limits_and_outages_fail_the_run_with_the_reason(
    store: RedisRunStore,
    fake_openai: FakeOpenAI,
    llm: OpenAILlmClient,
    costs: CostPolicy,
    tmp_path: Path,
    reply: Reply,
    reason: str,
) -> None:
    fake_openai.then(reply, reply, reply)

    run = await plan_tiny(sandboxed_service(store, llm, costs, tmp_path))

    assert run.status is RunStatus.FAILED
    assert run.failure is not None and reason in run.failure.message
    assert run.failure.step == "planning"


async def test_output_still_invalid_after_repairs_fails_with_the_reason_and_the_parents_usage(
    store: RedisRunStore, fake_openai: FakeOpenAI, llm: OpenAILlmClient, costs: CostPolicy, tmp_path: Path
) -> None:
    # The planner in the agent gives up after its repair rounds (2 by default): three calls paid.
    fake_openai.then(*(completion("{not json", prompt_tokens=100, completion_tokens=10) for _ in range(3)))

    run = await plan_tiny(sandboxed_service(store, llm, costs, tmp_path))

    assert run.status is RunStatus.FAILED
    assert run.failure is not None and "still invalid after 2 repair round(s)" in run.failure.message
    assert run.usage.prompt_tokens == 300 and run.usage.completion_tokens == 30
    assert len(fake_openai.received) == 3


async def test_the_repair_round_limit_is_the_policys_inside_the_sandbox_too(
    store: RedisRunStore, fake_openai: FakeOpenAI, llm: OpenAILlmClient, costs: CostPolicy, tmp_path: Path
) -> None:
    # policies/limits.yml `max_repair_rounds: 0`: the first unreadable answer ends the run, one call paid.
    fake_openai.then(*(completion("{not json", prompt_tokens=100, completion_tokens=10) for _ in range(3)))
    no_repairs = Policies(limits=Limits(max_repair_rounds=0))

    run = await plan_tiny(sandboxed_service(store, llm, costs, tmp_path, policies=no_repairs))

    assert run.status is RunStatus.FAILED
    assert run.failure is not None and "still invalid after 0 repair round(s)" in run.failure.message
    assert len(fake_openai.received) == 1 and run.usage.prompt_tokens == 100


async def test_an_agent_cannot_claim_a_cost_cap_to_block_a_run(store: RedisRunStore, tmp_path: Path) -> None:
    """Blocked-by-cap is the parent's verdict alone; an agent raising one just fails its run."""
    planner = SandboxedPlanner(
        policy=load_command_policy(),
        record=audit_recorder(store),
        planner="fixture_planners:ClaimsCostCapPlanner",
        pythonpath=[AGENTS],
        timeout_s=60,
    )
    runs = RunService(store, planner, DryRunSyncer(tmp_path / "runs", reason="test"), Policies())

    run = await plan_tiny(runs)

    assert run.status is RunStatus.FAILED
    assert not [c for c in run.requirements if c.name == "cost cap reached"]
    assert run.failure is not None and "CostCapReached" in run.failure.diagnosis


async def test_the_key_never_reaches_the_agents_environment_or_input(
    fake_openai: FakeOpenAI, llm: OpenAILlmClient, costs: CostPolicy, tmp_path: Path, prd: Prd
) -> None:
    """The agent is started through a shell that copies its environment and every byte of its
    stdin into the workspace, then execs the real agent: what it could ever have seen is on disk."""
    fake_openai.then(api_error(401, f"Incorrect API key provided: {TEST_KEY[:12]}****", code="invalid_api_key"))
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    events: list[dict[str, Any]] = []

    async def record(event: dict[str, Any]) -> None:
        events.append(event)

    broker = Broker(
        workspace=workspace,
        policy=load_command_policy(),
        record=record,
        llm=MeteredLlm(llm, MODEL, costs).for_run("T1"),
        timeout_s=60,
    )
    job = Job(prd=prd, planner="openai", model=MODEL, context=JobContext(run_id="r"))
    tee = f"env > env.txt; tee stdin.log | {sys.executable} -m bot.sandbox.agent"

    with pytest.raises(LlmAuthError, match="OPENAI_API_KEY"):
        await broker.run(job, agent_argv=["/bin/sh", "-c", tee])

    environment = (workspace / "env.txt").read_text()
    stdin = (workspace / "stdin.log").read_text()
    assert "PATH=" in environment and "OPENAI" not in environment
    lines = [json.loads(line) for line in stdin.splitlines()]
    assert lines[0]["type"] == "job" and lines[0]["prd"]["title"] == prd.title
    # The refusal itself is in the broker's record (the agent is stopped right after it, so the
    # tee may not have flushed its copy of that last line).
    assert any("OPENAI_API_KEY" in json.dumps(e) for e in events)
    for seen in (environment, stdin, json.dumps(events)):
        assert TEST_KEY[:12] not in seen
    assert [e["event"] for e in events][-1] == "agent.stopped"


@pytest.fixture
def prd() -> Prd:
    return parse_prd(TINY)
