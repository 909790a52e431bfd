"""The offline plan a tech lead would accept, on real PRDs: dependencies only with evidence and a
reason, issue-sized items within the policy, success criteria checked instead of planned, an
architecture pack drawn from the PRD; and the dependency rules applied to any planner's plan."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.domain.issue_body import Provenance, render_item
from bot.domain.models import ArchitecturePack, Plan, Prd, Run, WorkItem
from bot.domain.status import RunStatus
from bot.domain.verification import verify_backlog
from bot.planner.grouping import is_success_criterion
from bot.planner.heuristic import plan_heuristically
from bot.planner.llm_schema import LlmPlan, to_domain
from bot.planner.port import PlanningContext
from bot.planner.prd import parse_prd
from bot.slack.card_blocks import CardContext, status_card
from tests.helpers import PRDS, REAL_PRDS
from tests.speckit_assembly import speckit_spec

MAX_ITEMS = 60  # policies/limits.yml max_items_per_run
SPECKIT = "speckit-49-assembled"


def _prd(case: Path | str) -> Prd:
    return parse_prd(speckit_spec() if case == SPECKIT else Path(case).read_bytes())


def _plan(prd: Prd) -> Plan:
    return plan_heuristically(prd, PlanningContext(run_id="r", max_items=MAX_ITEMS))


CASES = [*REAL_PRDS, SPECKIT]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c if isinstance(c, str) else c.name)
def test_a_real_prd_gets_a_plan_that_can_be_worked_in_parallel_and_fits_the_policy(case: Path | str) -> None:
    prd = _prd(case)
    plan = _plan(prd)
    report = verify_backlog(prd, plan, max_items=MAX_ITEMS)
    assert report.passed, report.errors
    assert report.shape is not None
    # The longest "blocked by" chain is at most half the plan (a one-item plan is its own chain).
    assert report.shape.critical_path_length <= max(1, len(plan.items) // 2), report.shape
    assert len(plan.items) <= MAX_ITEMS
    assert not [f for f in report.findings if f.check == "backlog_size"]
    # Every requirement id is served by an item, and no item names one the PRD lacks.
    assert {r.id for r in prd.requirements} <= {rid for i in plan.items for rid in i.requirement_ids}
    # Every edge has its reason, none is implied by others.
    for item in plan.items:
        assert set(item.dependency_reasons) == set(item.depends_on), item.key
        for dep, reason in item.dependency_reasons.items():
            assert reason.strip() and f"Blocked by {dep}: {reason}" in item.body
    checks = {f.check for f in report.findings}
    assert not checks & {"unjustified_dependency", "redundant_dependency", "dependency_chain"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c if isinstance(c, str) else c.name)
def test_no_success_criterion_is_a_work_item_of_its_own(case: Path | str) -> None:
    prd = _prd(case)
    plan = _plan(prd)
    criteria = {r.id for r in prd.requirements if is_success_criterion(r)}
    for item in plan.items:
        served = set(item.requirement_ids)
        if served and served <= criteria:
            # Only an area's verification item serves nothing but criteria, and never just one.
            assert "verification" in item.labels and len(served) > 1, item
    for rid in criteria:
        [holder] = [i for i in plan.items if rid in i.requirement_ids]
        assert any(c.startswith(f"{rid} (success criterion)") for c in holder.acceptance_criteria)


def test_the_49_requirement_spec_is_issue_sized_not_blocked() -> None:
    prd = _prd(SPECKIT)
    assert len([r for r in prd.requirements if r.id.startswith("FR-")]) == 49
    assert len(prd.requirements) > MAX_ITEMS  # one item per id would be refused for size
    plan = _plan(prd)
    assert len(plan.items) <= len(prd.requirements) // 2
    assert verify_backlog(prd, plan, max_items=MAX_ITEMS).passed
    grouped = [i for i in plan.items if len([r for r in i.requirement_ids if r.startswith("FR-")]) > 1]
    assert grouped and all(len(i.requirement_ids) <= 6 for i in plan.items)
    # A grouped item lists each requirement it serves.
    for item in grouped:
        assert all(f"- {rid} — " in item.body for rid in item.requirement_ids if rid.startswith("FR-"))


def test_a_budget_smaller_than_the_spec_still_traces_every_requirement() -> None:
    prd = _prd(SPECKIT)
    plan = plan_heuristically(prd, PlanningContext(run_id="r", max_items=10))
    report = verify_backlog(prd, plan, max_items=10)
    assert len(plan.items) <= 10 and report.passed, report.errors


def test_the_task_master_plan_keeps_the_prds_stated_dependencies_and_no_invented_chain() -> None:
    prd = _prd(PRDS / "04_taskmaster_prd_full_large.md")
    plan = _plan(prd)
    by_name = {i.title.split(" (")[0]: i for i in plan.items}
    cli, data = by_name["Command Line Interface Foundation"], by_name["Task Data Structure"]
    assert cli.depends_on == [data.key]
    assert "Built on top of the task data structure" in cli.dependency_reasons[data.key]
    research = by_name["Research-Backed Subtask Generation"]
    assert set(research.depends_on) == {
        by_name["Perplexity Integration"].key,
        by_name["Task Expansion With Claude"].key,
    }
    # The PRD states no order for these: they start at once instead of waiting on their neighbours.
    for free in ("Node.js Runtime", "Configuration Management", "User Documentation", "Cursor Rules Implementation"):
        assert by_name[free].depends_on == [], free
    report = verify_backlog(prd, plan)
    assert report.shape is not None and report.shape.parallel_width >= 4
    assert sum(len(i.depends_on) for i in plan.items) < len(plan.items) - 1


def test_the_same_prd_gives_the_same_plan_hash() -> None:
    for case in CASES:
        assert _plan(_prd(case)).content_hash() == _plan(_prd(case)).content_hash()


def test_the_architecture_pack_says_what_the_prd_says() -> None:
    large = _plan(_prd(PRDS / "04_taskmaster_prd_full_large.md"))
    small = _plan(_prd(PRDS / "03_taskmaster_prd_tm_start_small.md"))
    loop = _plan(_prd(PRDS / "05_taskmaster_loop_prd_large.md"))
    for plan in (large, small, loop):
        assert plan.architecture.components
        for component in plan.architecture.components:
            assert component["responsibility"] and component["responsibility"] != component["name"]
    core = next(c for c in large.architecture.components if c["name"] == "Task Management Core")
    assert "Tasks.json file structure" in core["responsibility"]
    assert "Builds standardized prompt with task context" in small.architecture.data_flow
    assert "Resolve preset or custom prompt" in loop.architecture.data_flow
    assert any(i.startswith("`--sleep`") for i in loop.architecture.interfaces)
    assert any("threshold" in q for q in loop.architecture.open_questions)
    assert any("rate limiting" in r for r in large.architecture.risks)
    # Estimates follow scope instead of being all one size.
    assert len({i.estimate for i in large.items}) >= 3
    assert len({i.estimate for i in _plan(_prd(SPECKIT)).items}) >= 3


def test_a_should_a_bare_number_or_a_contradiction_becomes_an_open_question() -> None:
    prd = parse_prd(
        b"# Export\n\n## Functional Requirements\n\n"
        b"- **FR-001**: Exports should finish within 30 for a large account.\n"
        b"- **FR-002**: The retention period is TBD.\n"
        b"- **FR-003**: The system MUST keep exported files after the account is closed.\n"
        b"- **FR-004**: The system MUST NOT keep exported files after the account is closed.\n"
    )
    questions = _plan(prd).architecture.open_questions
    assert any(q.startswith("FR-001 says \u201cshould\u201d") for q in questions)
    assert any(q.startswith("FR-001 gives the limit 30 without a unit") for q in questions)
    assert any(q.startswith("FR-002 is not decided yet") for q in questions)
    assert any(q.startswith("FR-003 and FR-004 contradict each other") for q in questions)


# --- the rules, on any planner's plan ----------------------------------------------------------------


def _item(key: str, deps: dict[str, str] | None = None, *, rid: str = "R2.1") -> WorkItem:
    deps = deps or {}
    return WorkItem(
        key=key,
        title=f"Work {key}",
        body="b",
        requirement_ids=[rid],
        acceptance_criteria=["works"],
        depends_on=list(deps),
        dependency_reasons={k: v for k, v in deps.items() if v},
    )


TINY = parse_prd(b"# App\n\n## Features\n1. Add new todos to the list\n2. Delete todos from the list\n")


def _report_of(*items: WorkItem):  # type: ignore[no-untyped-def]
    return verify_backlog(TINY, Plan(summary="s", architecture=ArchitecturePack(), items=list(items)))


def test_an_edge_without_a_reason_is_flagged_for_any_planner() -> None:
    report = _report_of(_item("A"), _item("B", {"A": ""}, rid="R2.2"), _item("C", {"A": "uses A's schema"}))
    flagged = [(f.check, f.item_key, f.severity.value) for f in report.findings if f.check == "unjustified_dependency"]
    assert flagged == [("unjustified_dependency", "B", "warning")]


def test_an_edge_implied_by_others_is_redundant() -> None:
    report = _report_of(
        _item("A"), _item("B", {"A": "uses A"}, rid="R2.2"), _item("C", {"B": "uses B", "A": "uses A too"})
    )
    [finding] = [f for f in report.findings if f.check == "redundant_dependency"]
    assert finding.item_key == "C" and "A" in finding.message and "through B" in finding.message


def test_a_chain_over_half_of_eight_items_is_flagged_and_shown_in_the_shape() -> None:
    chained = [_item(f"W{n}", {f"W{n - 1}": "uses it"} if n > 1 else None) for n in range(1, 9)]
    report = _report_of(*chained)
    assert report.shape is not None
    assert report.shape.critical_path == [f"W{n}" for n in range(1, 9)] and report.shape.parallel_width == 1
    [finding] = [f for f in report.findings if f.check == "dependency_chain"]
    assert "8 of 8" in finding.message
    # Half the plan in one chain is still fine: four of eight.
    half = [_item(f"W{n}", {f"W{n - 1}": "uses it"} if n in (2, 3, 4) else None) for n in range(1, 9)]
    report = _report_of(*half)
    assert report.shape is not None and report.shape.critical_path_length == 4 and report.shape.parallel_width == 5
    assert not [f for f in report.findings if f.check == "dependency_chain"]


def test_a_models_dependency_reasons_reach_the_plan() -> None:
    answer = {
        "summary": "s",
        "architecture": {
            "overview": "o",
            "components": [],
            "data_flow": [],
            "interfaces": [],
            "risks": [],
            "open_questions": [],
        },
        "items": [
            {
                "key": key,
                "title": f"Do {key}",
                "body": "b",
                "requirement_ids": [rid],
                "depends_on": deps,
                "dependency_reasons": [{"key": d, "reason": "uses the list model W1 defines"} for d in deps],
                "labels": [],
                "estimate": "S",
                "acceptance_criteria": ["works"],
                "rationale": "r",
            }
            for key, rid, deps in (("W1", "R2.1", []), ("W2", "R2.2", ["W1"]))
        ],
    }
    plan = to_domain(LlmPlan.model_validate(answer))
    assert plan.items[1].dependency_reasons == {"W1": "uses the list model W1 defines"}
    assert not [f for f in verify_backlog(TINY, plan).findings if f.check == "unjustified_dependency"]


def test_the_card_shows_the_critical_path_and_the_parallel_width() -> None:
    prd = _prd(PRDS / "04_taskmaster_prd_full_large.md")
    plan = _plan(prd)
    report = verify_backlog(prd, plan)
    assert report.shape is not None
    run = Run(run_id="run-1", status=RunStatus.AWAITING_APPROVAL, prd=prd, plan=plan, verification=report)
    text = str(status_card(run, CardContext(now=datetime.now(UTC)))["blocks"])
    path = " → ".join(f"`{k}`" for k in report.shape.critical_path)
    assert f"Critical path {report.shape.critical_path_length} of {len(plan.items)} item(s) ({path})" in text
    assert f"parallel width {report.shape.parallel_width}" in text


def test_the_github_issue_says_why_it_is_blocked() -> None:
    prd = _prd(PRDS / "04_taskmaster_prd_full_large.md")
    plan = _plan(prd)
    cli = next(i for i in plan.items if i.title.startswith("Command Line Interface Foundation"))
    [dep] = cli.depends_on
    provenance = Provenance(
        run_id="run-1", plan_hash="a" * 64, planner="heuristic", requester="U1", approvers=("U2",), thread_url=None
    )
    draft = render_item(cli, prd, provenance, numbers={dep: 11}, withheld={}, pass_label="pass")
    line = next(ln for ln in draft.body.splitlines() if ln.startswith("- Blocked by #11"))
    assert re.search(r"Blocked by #11: needs the task data structure \(the PRD.+Built on top of the task data", line)


def test_a_requirement_with_many_acceptance_criteria_splits_and_each_part_traces_it() -> None:
    # The Task Master loop PRD's preset processes, as one story's acceptance scenarios (real text).
    loop = (PRDS / "05_taskmaster_loop_prd_large.md").read_text()
    steps = re.findall(
        r"^\d+\. (.+)$", loop.split("#### Preset: `default`")[1].split("#### Preset: `linting`")[0], re.M
    )
    assert len(steps) > 8
    scenarios = "\n".join(f"{n}. {s}" for n, s in enumerate(steps, start=1))
    prd = parse_prd(
        f"# Loop\n\n## User Scenarios\n\n### User Story 1 - Presets (Priority: P1)\n\nAs a developer, I want "
        f"presets.\n\n**Acceptance Scenarios**:\n\n{scenarios}\n".encode()
    )
    [story] = prd.requirements
    assert len(story.acceptance_criteria) == len(steps)
    plan = _plan(prd)
    assert len(plan.items) >= 2 and all(i.requirement_ids == ["US-1"] for i in plan.items)
    assert [c for i in plan.items for c in i.acceptance_criteria] == story.acceptance_criteria
    assert all(len(i.acceptance_criteria) <= 8 for i in plan.items)
    report = verify_backlog(prd, plan)
    assert report.passed and not [f for f in report.findings if f.check == "near_duplicates"], report.findings
