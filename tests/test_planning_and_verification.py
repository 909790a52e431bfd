"""The heuristic planner and the backlog checks, on real PRDs and on broken plans."""

from __future__ import annotations

import pytest

from bot.domain.models import Plan, WorkItem
from bot.domain.secrets import find_secrets, redact
from bot.domain.verification import verify_backlog
from bot.planner.heuristic import plan_heuristically
from bot.planner.prd import parse_prd
from tests.helpers import PRDS, REAL_PRDS, TEMPLATE_PRD


@pytest.mark.parametrize("path", REAL_PRDS, ids=lambda p: p.name)
def test_every_requirement_is_covered_and_the_plan_passes(path) -> None:  # type: ignore[no-untyped-def]
    prd = parse_prd(path.read_bytes())
    plan = plan_heuristically(prd)
    report = verify_backlog(prd, plan)
    assert report.passed, report.findings
    covered = {rid for item in plan.items for rid in item.requirement_ids}
    assert {r.id for r in prd.requirements} <= covered
    assert all(item.acceptance_criteria for item in plan.items)
    assert not [f for f in report.findings if f.check == "secrets"]
    assert "heuristic" in plan.summary


def test_roadmap_order_becomes_dependencies() -> None:
    prd = parse_prd((PRDS / "04_taskmaster_prd_full_large.md").read_bytes())
    plan = plan_heuristically(prd)
    by_title = {i.title.split(" (")[0]: i for i in plan.items}
    cli = by_title["Command Line Interface Foundation"]
    assert by_title["Task Data Structure"].key in cli.depends_on


def test_template_fails_with_a_finding_that_says_it_has_no_content() -> None:
    prd = parse_prd(TEMPLATE_PRD.read_bytes())
    report = verify_backlog(prd, plan_heuristically(prd))
    assert not report.passed
    assert report.findings[0].check == "prd_content"
    assert "template" in report.findings[0].message


def _plan(*items: WorkItem) -> Plan:
    from bot.domain.models import ArchitecturePack

    return Plan(summary="s", architecture=ArchitecturePack(), items=list(items))


def _item(key: str, rid: str = "R0.1", **kw) -> WorkItem:  # type: ignore[no-untyped-def]
    base = {"title": f"Do {key}", "body": "b", "requirement_ids": [rid], "acceptance_criteria": ["works"]}
    return WorkItem(key=key, **{**base, **kw})


TINY = parse_prd(b"# App\n\n## Features\n1. Add new todos to the list\n2. Delete todos from the list\n")


def test_an_uncovered_requirement_is_an_error() -> None:
    report = verify_backlog(TINY, _plan(_item("A", "R2.1")))
    assert [f.check for f in report.errors] == ["coverage"]
    assert "R2.2" in report.errors[0].message


def test_untraced_item_unknown_id_and_missing_criteria_are_errors() -> None:
    plan = _plan(
        _item("A", "R2.1"),
        _item("B", "R2.2"),
        _item("C", requirement_ids=[]),
        _item("D", "R9.9"),
        _item("E", "R2.1", acceptance_criteria=[]),
    )
    checks = sorted({(f.check, f.item_key) for f in verify_backlog(TINY, plan).errors})
    assert checks == [("acceptance_criteria", "E"), ("traceability", "C"), ("traceability", "D")]


def test_github_field_limits() -> None:
    plan = _plan(_item("A", "R2.1", title="x" * 257), _item("B", "R2.2", body="y" * 65_537))
    assert {(f.check, f.item_key) for f in verify_backlog(TINY, plan).errors} == {
        ("title_length", "A"),
        ("body_length", "B"),
    }


def test_dangling_dependency_and_cycle() -> None:
    plan = _plan(
        _item("A", "R2.1", depends_on=["B"]),
        _item("B", "R2.2", depends_on=["C"]),
        _item("C", "R2.2", title="Other", depends_on=["A"]),
        _item("D", "R2.2", title="Zed", depends_on=["Q"]),
    )
    messages = [f.message for f in verify_backlog(TINY, plan).errors if f.check == "dependencies"]
    assert any("Q, which is not in the plan" in m for m in messages)
    assert any("cycle" in m and "A" in m and "B" in m and "C" in m for m in messages)


def test_near_duplicates_are_a_warning() -> None:
    plan = _plan(_item("A", "R2.1", title="Add todos to the list"), _item("B", "R2.2", title="Add todos to list"))
    report = verify_backlog(TINY, plan)
    assert report.passed
    assert [(f.check, f.severity.value) for f in report.findings] == [("near_duplicates", "warning")]


# Built at run time so this file holds no token-shaped literal.
GITHUB_PAT = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
SLACK_BOT = "xoxb-" + "1234567890123-1234567890123-" + "aBcDeFgHiJkLmNoPqRsTuVwX"
AWS_KEY = "AKIA" + "Z7QW3ERT5YU6IOPL"
PRIVATE_KEY = "-----BEGIN RSA PRIVATE KEY-----\n" + "MIIEowIBAAKCAQEA7" * 6 + "\n-----END RSA PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("secret", "rule"),
    [
        (GITHUB_PAT, "github-pat"),
        (SLACK_BOT, "slack-bot-token"),
        (AWS_KEY, "aws-access-key-id"),
        (PRIVATE_KEY, "private-key"),
    ],
)
def test_a_secret_in_published_text_is_an_error_and_never_echoed(secret: str, rule: str) -> None:
    plan = _plan(_item("A", "R2.1", body=f"use {secret} to deploy"), _item("B", "R2.2"))
    errors = [f for f in verify_backlog(TINY, plan).errors if f.check == "secrets"]
    assert errors and errors[0].item_key == "A"
    assert secret not in errors[0].message
    assert next(h.rule_id for h in find_secrets(secret)) == rule
    assert secret not in redact(f"x {secret} y")


def test_ordinary_words_are_not_secrets() -> None:
    text = (PRDS / "05_taskmaster_loop_prd_large.md").read_text() + " sk-learn task-master ghp_short AKIA-docs"
    assert find_secrets(text) == []
