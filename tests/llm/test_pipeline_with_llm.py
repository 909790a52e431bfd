"""The whole run pipeline with the OpenAI planner: same run object, planner named, caps and API
errors ending the run visibly (blocked with the artifact / failed with the reason). The `passbot`
tests run it as shipped: the planner in the sandboxed agent, its calls made by the parent."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from bot.adapters.openai_client import OpenAILlmClient
from bot.adapters.redis_store import RedisRunStore
from bot.domain.cost import CostPolicy
from bot.domain.models import Source
from bot.domain.status import RunStatus
from bot.planner.costs import InMemorySpendLedger
from bot.planner.openai_planner import OpenAIPlanner
from bot.planner.prd import parse_prd
from bot.policies import Limits, Policies
from bot.services.dry_run import DryRunSyncer
from bot.services.runs import RunService
from tests.helpers import PRDS, REPO_ROOT, assert_run_contract, clean_env, stop_embedded_server
from tests.helpers import passbot_async as _passbot_bytes
from tests.llm.conftest import MODEL, TEST_KEY, FakeOpenAI, Reply, api_error, completion, plan_json

TINY = (PRDS / "02_taskmaster_test_prd_tiny.md").read_bytes()


def _service(store: RedisRunStore, llm: OpenAILlmClient, costs: CostPolicy, tmp_path: Path) -> RunService:
    planner = OpenAIPlanner(llm, MODEL, costs, ledger=InMemorySpendLedger())
    # The repair-round limit comes from the policy, through the run's planning context.
    policies = Policies(limits=Limits(max_repair_rounds=1))
    return RunService(store, planner, DryRunSyncer(tmp_path, reason="t"), policies)


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
    assert not cap.ok and cap.fix is not None and "of its $0.0050 cap" in cap.fix
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


async def passbot_async(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    code, out, err = await _passbot_bytes(*args, env=env)
    return code, out.decode(), err.decode()


async def plan_and_audit(env: dict[str, str], data: Path) -> tuple[int, dict[str, Any], str, list[dict[str, Any]]]:
    """`passbot plan TINY --json`, then the run's audit log as `passbot audit export` prints it."""
    try:
        code, out, err = await passbot_async("plan", str(PRDS / "02_taskmaster_test_prd_tiny.md"), "--json", env=env)
        run = json.loads(out)
        _, exported, _ = await passbot_async("audit", "export", "--run", run["run_id"], env=env)
    finally:
        stop_embedded_server(data)
    return code, run, err, [json.loads(line) for line in exported.splitlines()]


def llm_calls(audit: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (e["detail"]["decision"], e["detail"]["rule"])
        for e in audit
        if e["action"] == "agent.request" and e["detail"].get("type") == "llm.complete"
    ]


def agent_environments() -> list[bytes]:
    """The environment of every live process started to run the sandboxed agent."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and b"bot.sandbox.agent" in (entry / "cmdline").read_bytes():
                found.append((entry / "environ").read_bytes())
        except OSError:
            continue
    return found


async def test_passbot_plan_uses_the_llm_in_the_sandbox_when_a_key_is_set(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    ids = [r.id for r in parse_prd(TINY).requirements]
    fake_openai.then(completion(plan_json(ids)))
    data = tmp_path / "data"
    env = clean_env(data, OPENAI_API_KEY=TEST_KEY, OPENAI_BASE_URL=fake_openai.base_url, PASS_MODEL=MODEL)

    code, run, err, audit = await plan_and_audit(env, data)

    assert code == 0, err
    assert_run_contract(run)
    assert run["planner"] == f"openai:{MODEL}" and run["status"] == "awaiting_approval"
    assert run["isolation"] in {"bwrap", "unshare", "rlimits"}  # planned by the sandboxed agent
    assert [item["title"] for item in run["plan"]["items"]] == [f"Deliver {rid}" for rid in ids]
    assert run["usage"]["prompt_tokens"] == 1_000 and run["usage"]["cost_usd"] > 0
    assert llm_calls(audit) == [("allowed", "llm")]
    assert TEST_KEY not in err


async def test_passbot_plan_blocks_on_a_cost_cap_hit_in_the_sandbox(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    ids = [r.id for r in parse_prd(TINY).requirements]
    # The first answer misses requirements; the repair it needs could pass the $0.006 run cap.
    fake_openai.then(
        completion(plan_json(ids[:1]), prompt_tokens=2_000, completion_tokens=5_000),
        completion(plan_json(ids)),
    )
    policies = tmp_path / "policies"
    shutil.copytree(REPO_ROOT / "policies", policies)
    costs = policies / "costs.yml"
    costs.write_text(costs.read_text().replace("per_run_usd: 0.50", "per_run_usd: 0.006"))
    data = tmp_path / "data"
    env = clean_env(
        data,
        OPENAI_API_KEY=TEST_KEY,
        OPENAI_BASE_URL=fake_openai.base_url,
        PASS_MODEL=MODEL,
        PASS_POLICY_DIR=str(policies),
    )

    code, run, err, audit = await plan_and_audit(env, data)

    assert code == 3, err  # blocked
    assert run["status"] == "blocked"
    [cap] = [r for r in run["requirements"] if r["name"] == "cost cap reached"]
    assert cap["ok"] is False and "$0.0033 of its $0.0060 cap" in cap["fix"]
    assert run["usage"]["completion_tokens"] == 5_000
    assert len(fake_openai.received) == 1
    assert llm_calls(audit) == [("allowed", "llm"), ("refused", "cost-cap")]


async def test_passbot_plan_fails_on_a_rejected_key_naming_it_and_the_key_stays_in_the_parent(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    seen_by_agent: list[bytes] = []

    def reject(body: dict[str, Any]) -> Reply:
        # The agent is waiting on this very call: look at what its processes hold right now.
        seen_by_agent.extend(agent_environments())
        return api_error(401, f"Incorrect API key provided: {TEST_KEY[:12]}****", code="invalid_api_key")

    fake_openai.then(reject)
    data = tmp_path / "data"
    env = clean_env(data, OPENAI_API_KEY=TEST_KEY, OPENAI_BASE_URL=fake_openai.base_url, PASS_MODEL=MODEL)

    code, run, err, audit = await plan_and_audit(env, data)

    assert code == 1, err
    assert run["status"] == "failed" and "OPENAI_API_KEY" in run["failure"]["message"]
    assert llm_calls(audit) == [("refused", "llm-error")]
    assert seen_by_agent and all(b"PATH=" in environ for environ in seen_by_agent)
    for shown in (json.dumps(run), err, json.dumps(audit), *(e.decode() for e in seen_by_agent)):
        assert TEST_KEY[:12] not in shown
        assert "OPENAI_API_KEY=" not in shown
