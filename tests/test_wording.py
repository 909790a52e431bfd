"""The words people read on a run, from real runs on Redis: a dry run never says "Created", the
digest does not count a dry run as synced, a plan too big for the policy names the key to change
and says it failed verification, and numbers read as people expect."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.adapters.redis_store import RedisRunStore
from bot.domain.cost import cap_reached_requirement
from bot.domain.digest import assemble_digest
from bot.domain.figures import duration
from bot.domain.metrics import metrics_summary
from bot.domain.models import Prd, Source, utcnow
from bot.domain.status import RunStatus
from bot.errors import CostCapReached
from bot.planner.heuristic import HeuristicPlanner
from bot.planner.port import PlanningContext, PlanOutcome
from bot.policies import Limits, Policies
from bot.services.dry_run import DryRunSyncer
from bot.services.runs import RunService
from bot.slack.card_blocks import CardContext, status_card
from bot.slack.digest_blocks import digest_blocks
from bot.slack.stats_blocks import stats_blocks
from bot.slack.thread_blocks import findings_pages, synced_pages, thread_details
from tests.helpers import PRDS, stop_line
from tests.slack.conftest import card_text

LARGE = (PRDS / "04_taskmaster_prd_full_large.md").read_bytes()
TINY = (PRDS / "02_taskmaster_test_prd_tiny.md").read_bytes()


def _text(messages: list[dict[str, object]]) -> str:
    return " ".join(card_text(m) for m in messages)


async def _synced_dry_run(runs: RunService, prd: bytes, channel: str = "C0PLAN") -> str:
    run, _ = await runs.submit(prd, source=Source.SLACK, requester="U_REQ", channel=channel)
    run = await runs.execute(run.run_id)
    assert run.status is RunStatus.AWAITING_APPROVAL, run.verification
    outcome = await stop_line(runs).approve(run.run_id, user="U_OK", via="slack", plan_hash=run.plan_hash)
    assert outcome.now_approved
    return (await runs.sync(run.run_id)).run_id


async def test_a_dry_run_never_says_it_created_issues_and_the_digest_counts_it_apart(
    runs: RunService, store: RedisRunStore
) -> None:
    run = await store.get(await _synced_dry_run(runs, LARGE))
    assert run.sync.dry_run and len(run.sync.issues) > 10
    pages = _text(synced_pages(run))
    assert "Created" not in pages and "dry run" in pages

    now = utcnow()
    digest = assemble_digest(
        [run],
        channel="C0PLAN",
        since=now - timedelta(days=1),
        until=now + timedelta(minutes=1),
        zone=UTC,
        approvals=runs.policies.approvals,
        nudge_after=timedelta(hours=4),
    )
    assert digest.outcomes == {"staged (dry run)": 1}
    shown = card_text({"blocks": digest_blocks(digest)})
    assert "Synced" not in shown and "Staged (dry run)" in shown


class _OverBudgetPlanner(HeuristicPlanner):
    """A planner that ignores the item budget it is given (an LLM may): the offline planner fits
    its plan into `max_items_per_run`, so only such a plan is still blocked for size."""

    async def plan(self, prd: Prd, context: PlanningContext) -> PlanOutcome:
        return await super().plan(prd, dataclasses.replace(context, max_items=60))


async def test_a_plan_too_big_for_the_policy_names_the_key_and_says_verification_failed(
    store: RedisRunStore, tmp_path: Path
) -> None:
    policies = Policies(limits=Limits(max_items_per_run=3))
    runs = RunService(store, _OverBudgetPlanner(), DryRunSyncer(tmp_path, reason="test"), policies)
    run, _ = await runs.submit(LARGE, source=Source.SLACK, requester="U_REQ", channel="C1")
    run = await runs.execute(run.run_id)
    assert run.status is RunStatus.BLOCKED
    card = card_text(status_card(run, CardContext(now=utcnow())))
    assert "something PASS needs is missing" not in card
    assert "Blocked: the plan failed verification (1 error)" in card
    assert "max_items_per_run in policies/limits.yml allows 3" in card
    assert "Split the PRD." not in card


async def test_findings_are_counted_by_kind_under_human_check_names(runs: RunService) -> None:
    run, _ = await runs.submit(TINY, source=Source.SLACK, requester="U_REQ", channel="C1")
    run = await runs.execute(run.run_id)
    assert run.verification is not None and run.verification.passed
    findings = _text(findings_pages(run))
    assert "finding(s)" not in findings
    notes = sum(1 for f in run.verification.findings if f.severity.value == "info")
    assert f"Verification passed: no errors, {notes} note" in findings
    assert "*Planner*" in findings and "*planner*" not in findings
    assert all("$0.0000" not in str(m["text"]) for m in thread_details(run)), "a run with no model calls cost $0"


async def test_a_template_prd_names_its_requirement_in_words(runs: RunService) -> None:
    run, _ = await runs.submit(
        (PRDS / "01_taskmaster_example_prd_template.md").read_bytes(), source=Source.CLI, requester="me"
    )
    run = await runs.execute(run.run_id)
    shown = card_text(status_card(run, CardContext(now=utcnow()))) + _text(thread_details(run))
    assert "prd_has_content" not in shown and "PRD has content to plan" in shown


def test_quick_durations_keep_their_decimals() -> None:
    assert duration(0.17) == "0.17s"
    assert duration(2.5) == "2.5s"
    assert duration(0) == "0s"
    assert duration(42.4) == "42s"


def test_a_zero_cost_cap_says_no_model_call_is_allowed_not_dollar_zeros() -> None:
    cap = CostCapReached(spent=0.0, cap=0.0, scope="run", estimate=0.0031)
    fix = cap_reached_requirement(cap).fix or ""
    for words in (str(cap), fix):
        assert "$0.0000" not in words and "$0.00 " not in words, words
    assert "per_run_usd" in fix and "no model call is allowed" in fix
    spent = cap_reached_requirement(CostCapReached(spent=0.42, cap=0.5, scope="run", estimate=0.1)).fix or ""
    assert "spent $0.42 of its $0.50 cap" in spent


async def test_stats_name_channels_as_slack_mentions(runs: RunService, store: RedisRunStore) -> None:
    await _synced_dry_run(runs, TINY, channel="C0PLAN")
    summary = metrics_summary(await store.list_runs(), "7d", now=datetime.now(UTC) + timedelta(minutes=1))
    shown = card_text({"blocks": stats_blocks(summary)})
    assert "<#C0PLAN>" in shown
