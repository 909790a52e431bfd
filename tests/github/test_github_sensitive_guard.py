"""The sensitive-data guard decides what may be published where, and says why without the text."""

from __future__ import annotations

from bot.domain.models import ArchitecturePack, Plan, Prd, Requirement, WorkItem
from bot.domain.sensitive import screen_plan

SLACK_TOKEN = "xoxb-" + "1234567890-1234567890123-" + "aB3dE5fG7hJ9kL1mN3pQ5rS7"


def prd() -> Prd:
    return Prd(
        sha256="0" * 64,
        title="t",
        requirements=[
            Requirement(id="FR-1", text="Public feature."),
            Requirement(id="FR-2", text="Internal pricing rules.", confidential=True),
            Requirement(id="FR-3", text=f"Post with token {SLACK_TOKEN}."),
        ],
    )


def plan() -> Plan:
    return Plan(
        summary="",
        architecture=ArchitecturePack(),
        items=[
            WorkItem(key="A", title="Feature", body="Build it.", requirement_ids=["FR-1"]),
            WorkItem(key="B", title="Pricing", body="Rules.", requirement_ids=["FR-1", "FR-2"]),
            WorkItem(key="C", title="Notify", body="Post to Slack.", requirement_ids=["FR-3"]),
        ],
    )


def test_public_repo_refuses_confidential_and_secret_items() -> None:
    screening = screen_plan(plan(), prd(), public=True)

    assert [i.key for i in screening.allowed] == ["A"]
    assert [(r.key, r.reason) for r in screening.refused] == [("B", "confidential"), ("C", "secret")]
    assert "FR-2" in screening.refused[0].detail and "pricing" not in screening.refused[0].detail.lower()
    assert "Slack bot token" in screening.refused[1].detail and SLACK_TOKEN not in screening.refused[1].detail


def test_private_repo_allows_confidential_but_never_secrets() -> None:
    screening = screen_plan(plan(), prd(), public=False)

    assert [i.key for i in screening.allowed] == ["A", "B"]
    assert [(r.key, r.reason) for r in screening.refused] == [("C", "secret")]
