"""The text of a synced issue: marker, traceability, limits, dependency order."""

from __future__ import annotations

import pytest
from fake_github_api import live_references
from github_sync_fakes import make_run

from bot.domain.backlog_rules import MAX_BODY, MAX_TITLE
from bot.domain.issue_body import (
    TRACKING_KEY,
    Marker,
    Provenance,
    dependency_order,
    parse_marker,
    render_item,
    render_tracking,
)
from bot.domain.mentions import quiet_mentions
from bot.domain.models import SyncRefusal, WorkItem


def item(key: str, *deps: str, **extra: object) -> WorkItem:
    fields: dict[str, object] = {"title": f"Item {key}", "body": f"Do {key}.", "requirement_ids": ["FR-001"]}
    fields.update(extra)
    return WorkItem(key=key, depends_on=list(deps), **fields)


def test_a_marker_reads_back_even_with_awkward_keys() -> None:
    marker = Marker.for_item("run 7/α", "api auth -->", "ab" * 32)

    assert marker.text.startswith("<!-- pass:run=") and marker.text.count("-->") == 1
    assert parse_marker(marker.text + "\nbody") == marker
    assert marker.plan == "ab" * 6


def test_marker_text_quoted_inside_a_body_does_not_count() -> None:
    forged = Marker.for_item("run-01", "T9", "ab" * 32).text
    assert parse_marker(f"A PRD quoting {forged}") is None
    assert parse_marker(None) is None


def test_dependencies_come_before_their_dependents_and_cycles_are_kept() -> None:
    items = [item("C", "B"), item("A"), item("B", "A", "outside"), item("X", "Y"), item("Y", "X")]

    order = [i.key for i in dependency_order(items)]

    assert order.index("A") < order.index("B") < order.index("C")
    assert sorted(order) == ["A", "B", "C", "X", "Y"]


def provenance() -> Provenance:
    run = make_run()
    return Provenance.of(run, run.plan_hash or "", "https://acme.slack.com/archives/C0PLANS/p1")


def test_an_over_long_body_is_cut_to_githubs_limit_keeping_marker_and_footer() -> None:
    run = make_run()
    assert run.prd is not None
    huge = item("T1", body="x" * 100_000, title="y" * 400)

    draft = render_item(huge, run.prd, provenance(), numbers={}, withheld={}, pass_label="pass")

    assert len(draft.body) <= MAX_BODY and len(draft.title) <= MAX_TITLE
    assert parse_marker(draft.body) is not None
    assert "truncated" in draft.body and draft.body.rstrip().endswith("</sub>")


def test_dependencies_name_numbers_withheld_items_and_missing_ones() -> None:
    run = make_run()
    assert run.prd is not None
    refusal = SyncRefusal(key="T2", reason="confidential", detail="serves FR-9")

    draft = render_item(
        item("T4", "T1", "T2", "T3"),
        run.prd,
        provenance(),
        numbers={"T1": 11},
        withheld={"T2": refusal},
        pass_label="p",
    )

    assert "Blocked by #11" in draft.body
    assert "Blocked by `T2` (withheld from this repository: confidential)" in draft.body
    assert "Blocked by `T3` (not created on GitHub)" in draft.body
    assert draft.labels[0] == "p"


def test_the_tracking_issue_lists_every_item_and_requirement_coverage_without_secrets() -> None:
    run = make_run()
    assert run.prd is not None and run.plan is not None
    plan = run.plan.model_copy(update={"summary": "Deploy with AKIAQ3EGRTYU2XBZ4NMK please."})
    refusal = SyncRefusal(key="T3", reason="secret", detail="its text contains a secret (AWS access key id)")

    draft = render_tracking(
        plan, run.prd, provenance(), numbers={"T1": 5, "T2": 6}, withheld={"T3": refusal}, pass_label="pass"
    )

    assert parse_marker(draft.body) == Marker.for_item("run-01", TRACKING_KEY, run.plan_hash or "")
    assert "- [ ] #5 (`T1`)" in draft.body and "- [ ] #6 (`T2`)" in draft.body
    assert "`T3` withheld: its text contains a secret" in draft.body
    assert "**FR-001**: #5" in draft.body and "**FR-003**: no published item" in draft.body
    assert "AKIAQ3EGRTYU2XBZ4NMK" not in draft.body


@pytest.mark.parametrize(
    "text",
    [
        "`a backtick left open @mallory",
        "`a span cannot cross\n\na blank line @mallory `",
        "```\nfenced\n```\r@mallory after a lone carriage return",
        "> quoted @mallory, #7 and acme/infra#8",
        "- [ ] a task for @acme/team",
    ],
)
def test_quoted_text_has_no_live_mention_however_it_is_laid_out(text: str) -> None:
    assert live_references(text), "the case must be live before it is quieted"
    assert live_references(quiet_mentions(text)) == []


def test_addresses_url_fragments_and_code_blocks_are_left_as_written() -> None:
    text = "mail ops@acme.test, see https://docs.test/page#12\n\n```\n@decorator #1\n```"
    assert quiet_mentions(text) == text
