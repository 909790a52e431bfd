"""An LLM plan that copies a secret into an item is told so once per item, not once by the
planner's output check and again by verification (issue #17: secret findings printed twice)."""

from __future__ import annotations

from pathlib import Path

from bot.adapters.openai_client import OpenAILlmClient
from bot.adapters.redis_store import RedisRunStore
from bot.domain.cost import CostPolicy
from bot.domain.models import Source
from bot.planner.costs import InMemorySpendLedger
from bot.planner.openai_planner import OpenAIPlanner
from bot.planner.prd import parse_prd
from bot.policies import Limits, Policies
from bot.services.dry_run import DryRunSyncer
from bot.services.runs import RunService
from tests.helpers import PRDS
from tests.llm.conftest import MODEL, FakeOpenAI, completion, plan_json
from tests.secret_corpus import POSITIVES

TINY = (PRDS / "02_taskmaster_test_prd_tiny.md").read_bytes()
STRIPE = next(c for c in POSITIVES if c.fires == "stripe-access-key")


async def test_a_secret_in_an_llm_item_is_one_finding_for_that_item(
    store: RedisRunStore, fake_openai: FakeOpenAI, llm: OpenAILlmClient, costs: CostPolicy, tmp_path: Path
) -> None:
    ids = [r.id for r in parse_prd(TINY).requirements]
    leaky = plan_json(ids, extra_body=f"Charge with {STRIPE.text}. Reminder: {STRIPE.text}")
    for _ in range(2):  # the first answer and the one repair round the policy allows
        fake_openai.then(completion(leaky))
    planner = OpenAIPlanner(llm, MODEL, costs, ledger=InMemorySpendLedger())
    runs = RunService(store, planner, DryRunSyncer(tmp_path, reason="t"), Policies(limits=Limits(max_repair_rounds=1)))

    run, _ = await runs.submit(TINY, source=Source.CLI, requester="me")
    run = await runs.execute(run.run_id)

    assert run.verification is not None and not run.verification.passed
    about_secrets = [f for f in run.verification.findings if "secret" in f.check]
    assert sorted(f.item_key or "" for f in about_secrets) == sorted(f"W{n}" for n in range(1, len(ids) + 1))
    assert all(f.check == "secrets" for f in about_secrets)
    assert STRIPE.shown_parts(str(run.contract())) == []
