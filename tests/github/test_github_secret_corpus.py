"""The secret corpus synced to a public repository through real PyGithub: no issue shows a
secret, each item carrying one is withheld and named, and every near miss is published."""

from __future__ import annotations

import json

from fake_github_api import FakeGitHub
from github_sync_fakes import REPO, SyncerFactory, make_run

from bot.domain.issue_body import TRACKING_KEY, parse_marker
from bot.domain.models import Requirement, WorkItem
from tests.secret_corpus import NEGATIVES, POSITIVES


async def test_a_public_repo_gets_no_secret_from_the_corpus_and_every_near_miss(
    github: FakeGitHub, make_syncer: SyncerFactory
) -> None:
    github.add_repo(REPO, private=False)
    cases = [*POSITIVES, *NEGATIVES]
    requirements = [Requirement(id="FR-001", text="Billing works end to end.", explicit_id=True)]
    items = [
        WorkItem(key=f"T{n:02d}", title=case.name, body=f"From the PRD:\n\n{case.text}", requirement_ids=["FR-001"])
        for n, case in enumerate(cases, start=1)
    ]
    run = make_run(items, requirements=requirements)
    # The tracking issue quotes the plan's summary: a secret there is redacted, not published.
    assert run.plan is not None
    run.plan.summary = f"Billing rework. {POSITIVES[0].text}"

    result = await make_syncer().sync(run)

    published = json.dumps(github.repos[REPO].issues)
    for case in POSITIVES:
        assert case.shown_parts(published) == [], case.name
    created = {m.item_key for i in github.repos[REPO].issues if (m := parse_marker(i["body"])) is not None}
    assert created == {f"T{n:02d}" for n in range(len(POSITIVES) + 1, len(cases) + 1)} | {TRACKING_KEY}
    assert [r.reason for r in result.refusals] == ["secret"] * len(POSITIVES)
    assert f"Withheld {len(POSITIVES)}" in result.note
    for case in POSITIVES:
        assert case.shown_parts(result.note) == []
