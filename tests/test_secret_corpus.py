"""The secret guard against its regression corpus: each fake secret is caught by the detector
named for it and never shown again; each near miss is left alone (issue #17)."""

from __future__ import annotations

import io
import json
import sys

import pytest
import structlog

from bot.domain.models import ArchitecturePack, Plan, Prd, Requirement, WorkItem
from bot.domain.secrets import find_secrets, redact, redact_strings
from bot.domain.sensitive import screen_plan
from bot.logging import configure_logging, get_logger
from tests.secret_corpus import NEGATIVES, POSITIVES, Case


def test_the_corpus_covers_what_issue_17_saw_slip_through() -> None:
    fired = {case.fires for case in POSITIVES}
    assert {"stripe-access-key", "gcp-api-key", "aws-secret-access-key", "password-in-url"} <= fired
    assert {case.detector for case in POSITIVES} == {"gitleaks", "detect-secrets", "pass"}
    assert all(case.secret for case in POSITIVES), "every positive has a split fake secret"


@pytest.mark.parametrize("case", POSITIVES, ids=lambda c: c.name)
def test_each_fake_secret_is_caught_by_its_detector_and_redacted_whole(case: Case) -> None:
    hits = find_secrets(case.text)

    covering = [h for h in hits if h.start <= case.text.index(case.secret) + len(case.secret) // 2 < h.end]
    assert [(h.rule_id, h.source) for h in covering] == [(case.fires, case.detector)], hits
    assert case.shown_parts(redact(case.text)) == []


@pytest.mark.parametrize("case", NEGATIVES, ids=lambda c: c.name)
def test_near_misses_are_not_secrets(case: Case) -> None:
    assert find_secrets(case.text) == []
    assert redact(case.text) == case.text


def _plan_of(cases: list[Case]) -> tuple[Plan, Prd]:
    prd = Prd(sha256="0" * 64, title="corpus", requirements=[Requirement(id="FR-001", text="Billing works.")])
    items = [
        WorkItem(key=f"T{n:02d}", title=case.name, body=f"From the PRD:\n\n{case.text}", requirement_ids=["FR-001"])
        for n, case in enumerate(cases, start=1)
    ]
    return Plan(summary="corpus", architecture=ArchitecturePack(), items=items), prd


def test_the_public_repo_guard_withholds_every_secret_and_publishes_every_near_miss() -> None:
    plan, prd = _plan_of([*POSITIVES, *NEGATIVES])

    screening = screen_plan(plan, prd, public=True)

    refused = {r.key for r in screening.refused}
    assert refused == {f"T{n:02d}" for n in range(1, len(POSITIVES) + 1)}
    assert {r.reason for r in screening.refused} == {"secret"}
    assert len(screening.allowed) == len(NEGATIVES)
    said = json.dumps([r.detail for r in screening.refused])
    assert all(case.shown_parts(said) == [] for case in POSITIVES)


def test_log_lines_and_json_outputs_carry_none_of_the_corpus(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    configure_logging("info", "json")
    try:
        for case in POSITIVES:
            get_logger("t").info("sync.failed", error=f"GitHub said no to {case.text}")
    finally:
        structlog.reset_defaults()
    document = json.dumps(redact_strings({"items": [{"body": c.text} for c in POSITIVES]}))
    for case in POSITIVES:
        assert case.shown_parts(out.getvalue()) == [], case.name
        assert case.shown_parts(document) == [], case.name
