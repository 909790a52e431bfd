"""Runs with explicit timestamps, built through the real state machine (`Run.moved`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain.models import (
    Actor,
    Failure,
    Finding,
    Prd,
    RequirementCheck,
    Run,
    Severity,
    Source,
    SyncResult,
    Usage,
    VerificationReport,
)
from bot.domain.status import RunStatus

S = RunStatus
T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
HAPPY = [(S.CHECKING, 10), (S.PLANNING, 20), (S.VERIFYING, 80), (S.AWAITING_APPROVAL, 100)]


def make_run(
    run_id: str,
    created: datetime,
    steps: list[tuple[RunStatus, float]],
    *,
    channel: str | None = None,
    repo: str | None = None,
    usage: Usage | None = None,
    retries: int = 0,
    failure: Failure | None = None,
    requester: str = "U_REQ",
    title: str = "A PRD",
    verification: VerificationReport | None = None,
    requirements: list[RequirementCheck] | None = None,
) -> Run:
    run = Run(
        run_id=run_id,
        source=Source.SLACK if channel else Source.CLI,
        requester=requester,
        channel=channel,
        repo=repo,
        prd=Prd(sha256="0" * 64, title=title, requirements=[]),
        usage=usage or Usage(),
        retries=retries,
        created_at=created,
        updated_at=created,
        verification=verification,
        requirements=requirements or [],
        # A run with a repo synced to GitHub; without one it was a dry run (counted apart).
        sync=SyncResult(target=repo, dry_run=repo is None),
    )
    for status, offset in steps:
        actor = Actor.HUMAN if status is RunStatus.APPROVED else Actor.SYSTEM
        run = run.moved(status, at=created + timedelta(seconds=offset), actor=actor)
    if failure is not None:
        run = run.model_copy(update={"failure": failure})
    return run


def at(created: datetime, seconds: float) -> datetime:
    return created + timedelta(seconds=seconds)


def metric_fixture() -> list[Run]:
    """Five runs in the week before T0 + 2 days, one older. Hand-computed values in test_metrics.py."""
    r2 = T0 + timedelta(hours=1)
    r3 = T0 + timedelta(days=1)
    r4 = T0 + timedelta(days=1, hours=1)
    r5 = T0 + timedelta(days=1, hours=2)
    old = T0 - timedelta(days=10)
    verification_failed = VerificationReport(
        passed=False, findings=[Finding(check="coverage", severity=Severity.ERROR, message="FR-2 has no item")]
    )
    return [
        make_run(
            "r1",
            T0,
            [*HAPPY, (S.APPROVED, 700), (S.SYNCING, 710), (S.SYNCED, 760)],
            channel="C1",
            repo="acme/a",
            usage=Usage(prompt_tokens=1000, completion_tokens=500, cost_usd=0.01),
            retries=1,
        ),
        make_run(
            "r2",
            r2,
            [
                (S.CHECKING, 5),
                (S.PLANNING, 10),
                (S.VERIFYING, 40),
                (S.AWAITING_APPROVAL, 300),
                (S.APPROVED, 3600),
                (S.SYNCING, 3610),
                (S.FAILED, 3620),
                (S.APPROVED, 4000),
                (S.SYNCING, 4005),
                (S.SYNCED, 4300),
            ],
            channel="C1",
            repo="acme/a",
            usage=Usage(prompt_tokens=2000, completion_tokens=1000, cost_usd=0.02),
            failure=Failure(
                step="syncing",
                message="TrackerUnavailable: GitHub answered 502",
                at=at(r2, 3615),
                diagnosed_at=at(r2, 3680),
            ),
        ),
        make_run(
            "r3",
            r3,
            [(S.CHECKING, 5), (S.PLANNING, 10), (S.VERIFYING, 50), (S.BLOCKED, 60)],
            channel="C2",
            repo="acme/b",
            usage=Usage(prompt_tokens=400, completion_tokens=100, cost_usd=0.004),
            retries=2,
            verification=verification_failed,
        ),
        make_run(
            "r4",
            r4,
            [(S.CHECKING, 5), (S.PLANNING, 10), (S.FAILED, 30)],
            failure=Failure(step="planning", message="ValueError: the model returned nothing", at=at(r4, 25)),
        ),
        make_run(
            "r5",
            r5,
            [(S.CHECKING, 5), (S.PLANNING, 10), (S.FAILED, 40)],
            channel="C2",
            repo="acme/b",
            usage=Usage(prompt_tokens=100, completion_tokens=0, cost_usd=0.001),
            failure=Failure(step="planning", message="TimeoutError: no answer in 600 s", at=at(r5, 20)),
        ),
        make_run("old", old, [*HAPPY], channel="C1", repo="acme/a", usage=Usage(prompt_tokens=99_999)),
    ]


NOW = T0 + timedelta(days=2)
