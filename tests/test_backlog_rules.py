"""Verification and the LLM repair loop judge a backlog by the same rules: a model's plan that
verification would refuse for its structure is sent back to the model, naming the same item, and
a plan verification accepts is not sent back for its structure."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.domain.models import Severity
from bot.domain.verification import verify_backlog
from bot.planner.output_check import check_output
from bot.planner.prd import parse_prd

PRD = parse_prd(b"# App\n\n## Features\n1. Add new todos to the list\n2. Delete todos from the list\n")


def _item(key: str, rid: str, **changes: Any) -> dict[str, Any]:
    item = {
        "key": key,
        "title": f"Build the {key} part of the todo list",
        "body": "What to build and how to check it.",
        "requirement_ids": [rid],
        "depends_on": [],
        "labels": ["feature"],
        "estimate": "M",
        "acceptance_criteria": ["works"],
        "rationale": "serves the requirement",
    }
    return {**item, **changes}


def _answer(*items: dict[str, Any]) -> str:
    lists = ("components", "data_flow", "interfaces", "risks", "open_questions")
    architecture = {"overview": "o", **{name: [] for name in lists}}
    return json.dumps({"summary": "s", "architecture": architecture, "items": list(items)})


BROKEN = {
    "an item naming no requirement": (
        _item("W1", "R2.1"),
        _item("W2", "R2.2"),
        _item("W3", "R2.1", requirement_ids=[]),
    ),
    "an item naming a requirement the PRD lacks": (_item("W1", "R2.1"), _item("W2", "R2.2"), _item("W3", "R9.9")),
    "a requirement no item covers": (_item("W1", "R2.1"),),
    "two items with one key": (_item("W1", "R2.1"), _item("W1", "R2.2", title="Delete todos from the list")),
    "an item depending on itself": (_item("W1", "R2.1"), _item("W2", "R2.2", depends_on=["W2"])),
    "a dependency on no item": (_item("W1", "R2.1"), _item("W2", "R2.2", depends_on=["Q"])),
    "a dependency cycle": (
        _item("W1", "R2.1", depends_on=["W2"], dependency_reasons=[{"key": "W2", "reason": "uses W2"}]),
        _item("W2", "R2.2", depends_on=["W1"], dependency_reasons=[{"key": "W1", "reason": "uses W1"}]),
    ),
    "a title longer than GitHub allows": (_item("W1", "R2.1", title="x" * 257), _item("W2", "R2.2")),
}


@pytest.mark.parametrize("case", BROKEN)
def test_what_verification_refuses_the_repair_loop_sends_back(case: str) -> None:
    check = check_output(_answer(*BROKEN[case]), PRD, max_items=60)
    assert check.plan is not None and not check.ok
    refused = verify_backlog(PRD, check.plan)
    assert not refused.passed
    told_the_model = " ".join(check.problems())
    assert all(f.item_key in told_the_model for f in refused.errors if f.item_key)


def test_a_plan_verification_accepts_is_not_sent_back() -> None:
    answer = _answer(
        _item("W1", "R2.1"),
        _item("W2", "R2.2", depends_on=["W1"], dependency_reasons=[{"key": "W1", "reason": "deletes what W1 adds"}]),
    )
    check = check_output(answer, PRD, max_items=60)
    assert check.ok, check.problems()
    assert check.plan is not None
    assert [f for f in verify_backlog(PRD, check.plan).findings if f.severity is Severity.ERROR] == []
