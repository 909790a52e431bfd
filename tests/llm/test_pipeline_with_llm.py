"""The whole run pipeline with the OpenAI planner: same run object, planner named, caps and API
errors ending the run visibly (blocked with the artifact / failed with the reason)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from bot.adapters.openai_client import OpenAILlmClient
from bot.adapters.redis_store import RedisRunStore
from bot.domain.cost import CostPolicy
from bot.domain.models import Source
from bot.domain.status import RunStatus
from bot.planner.costs import InMemorySpendLedger
from bot.planner.openai_planner import OpenAIPlanner, PlannerLimits
from bot.planner.prd import parse_prd
from bot.policies import Policies
from bot.services.dry_run import DryRunSyncer
from bot.services.runs import RunService
from tests.helpers import PRDS, REPO_ROOT, assert_run_contract, clean_env, stop_embedded_server
from tests.llm.conftest import MODEL, TEST_KEY, FakeOpenAI, api_error, completion, plan_json

TINY = (PRDS / "02_taskmaster_test_prd_tiny.md").read_bytes()


def _service(store: RedisRunStore, llm: OpenAILlmClient, costs: CostPolicy, tmp_path: Path) -> RunService:
    planner = OpenAIPlanner(llm, MODEL, costs, ledger=InMemorySpendLedger(), limits=PlannerLimits(max_repair_rounds=1))
    return RunService(store, planner, DryRunSyncer(tmp_path, reason="t"), Policies())


async def test_an_llm_plan_is_staged_with_its_usage_and_the_planner_named(
    store: RedisRunStore, fake_openai: FakeOpenAI, llm: OpenAILlmClient, costs: CostPolicy, tmp_path: Path
) -> None:
    ids = [r.id for r in parse_prd(TINY).requirements]
    fake_openai.then(completion(plan_json(ids), prompt_tokens=1_200, completion_tokens=800))
    runs = _service(store, llm, costs, tmp_path)
    run, _ = await runs.submit(TINY, source=Source.CLI, requester="me")
    run = await runs.execute(run.run_id)
    assert run.status is RunStatus.AWAITING_APPROVAL
    contract = run.contract()
    assert_run_contract(contract)
    assert contract["planner"] == f"openai:{MODEL}"
    assert contract["usage"]["prompt_tokens"] == 1_200 and contract["usage"]["completion_tokens"] == 800
    assert contract["usage"]["cost_usd"] > 0


async def test_a_cost_cap_blocks_the_run_with_spend_and_cap_shown(
    store: RedisRunStore, fake_openai: FakeOpenAI, llm: OpenAILlmClient, costs: CostPolicy, tmp_path: Path
) -> None:
    ids = [r.id for r in parse_prd(TINY).requirements]
    fake_openai.then(completion(plan_json(ids[:1]), prompt_tokens=2_000, completion_tokens=5_000))
    tight = costs.model_copy(update={"caps": costs.caps.model_copy(update={"per_run_usd": 0.005})})
    runs = _service(store, llm, tight, tmp_path)
    run, _ = await runs.submit(TINY, source=Source.CLI, requester="me")
    run = await runs.execute(run.run_id)
    assert run.status is RunStatus.BLOCKED
    cap = next(c for c in run.requirements if c.name == "cost cap reached")
    assert not cap.ok and cap.fix is not None and "$0.01" in cap.fix
    assert run.usage.completion_tokens == 5_000  # what was spent is on the run


async def test_a_rejected_key_fails_the_run_naming_the_variable_never_the_key(
    store: RedisRunStore, fake_openai: FakeOpenAI, llm: OpenAILlmClient, costs: CostPolicy, tmp_path: Path
) -> None:
    fake_openai.then(api_error(401, f"Incorrect API key provided: {TEST_KEY[:12]}****", code="invalid_api_key"))
    runs = _service(store, llm, costs, tmp_path)
    run, _ = await runs.submit(TINY, source=Source.CLI, requester="me")
    run = await runs.execute(run.run_id)
    assert run.status is RunStatus.FAILED
    assert run.failure is not None and "OPENAI_API_KEY" in run.failure.message
    assert TEST_KEY[:12] not in run.model_dump_json()


async def test_passbot_plan_uses_the_llm_when_a_key_is_set(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    ids = [r.id for r in parse_prd(TINY).requirements]
    fake_openai.then(completion(plan_json(ids)))
    data = tmp_path / "data"
    env = clean_env(data, OPENAI_API_KEY=TEST_KEY, OPENAI_BASE_URL=fake_openai.base_url, PASS_MODEL=MODEL)
    try:
        # The fake server lives in this test's event loop, so the command runs as an asyncio subprocess.
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "plan",
            str(PRDS / "02_taskmaster_test_prd_tiny.md"),
            "--json",
            env=env,
            cwd=REPO_ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
    finally:
        stop_embedded_server(data)
    assert proc.returncode == 0, err.decode()
    run = json.loads(out)
    assert_run_contract(run)
    assert run["planner"] == f"openai:{MODEL}" and run["status"] == "awaiting_approval"
    assert [item["title"] for item in run["plan"]["items"]] == [f"Deliver {rid}" for rid in ids]
    assert TEST_KEY not in err.decode()
