"""Builders and small fakes shared by the GitHub sync tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fake_github_api import FakeGitHub
from github import Auth

from bot.adapters.github_tracker import GitHubTracker
from bot.domain.models import Approval, ArchitecturePack, Plan, Prd, Requirement, Run, WorkItem
from bot.domain.status import RunStatus
from bot.services.github_sync import GitHubSyncer

TOKEN = "test-token-not-a-secret"
REPO = "acme/widgets"

SyncerFactory = Callable[..., GitHubSyncer]


class MemoryLedger:
    """The lead's Redis hash, in memory: what a worker would find after a restart."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, tuple[int, str]]] = {}

    async def already_created(self, run_id: str) -> dict[str, tuple[int, str]]:
        return dict(self.rows.get(run_id, {}))

    async def record_created(self, run_id: str, key: str, number: int, url: str) -> None:
        self.rows.setdefault(run_id, {})[key] = (number, url)


class WorkerCrashed(Exception):
    """Stands for the worker process dying: nothing after it in that sync runs."""


class CrashingLedger(MemoryLedger):
    """Dies on the record after `records` successful ones: before storing it, or just after."""

    def __init__(self, base: MemoryLedger, records: int, *, before_store: bool) -> None:
        super().__init__()
        self.rows = base.rows
        self._left = records
        self._before_store = before_store

    async def record_created(self, run_id: str, key: str, number: int, url: str) -> None:
        if self._left == 0:
            if not self._before_store:
                await super().record_created(run_id, key, number, url)
            raise WorkerCrashed(key)
        self._left -= 1
        await super().record_created(run_id, key, number, url)


def make_tracker(github: FakeGitHub, token: str = TOKEN) -> GitHubTracker:
    return GitHubTracker(auth=Auth.Token(token), base_url=github.base_url, timeout=1, seconds_between_requests=0)


async def thread_link(channel: str, thread_ts: str) -> str | None:
    return f"https://acme.slack.com/archives/{channel}/p{thread_ts.replace('.', '')}"


def make_run(
    items: list[WorkItem] | None = None,
    *,
    requirements: list[Requirement] | None = None,
    run_id: str = "run-01",
) -> Run:
    requirements = requirements or [
        Requirement(
            id="FR-001",
            text="Users can sign in with their company SSO account.",
            acceptance_criteria=["Given a valid SSO account, when the user signs in, then a session starts"],
            explicit_id=True,
        ),
        Requirement(id="FR-002", text="Users can export their widgets as CSV.", explicit_id=True),
        Requirement(id="FR-003", text="Admins see an audit log of exports.", explicit_id=True),
    ]
    items = items or [
        WorkItem(
            key="T1",
            title="SSO sign-in",
            body="Add SAML sign-in.",
            requirement_ids=["FR-001"],
            labels=["auth"],
            acceptance_criteria=["A user with a valid SSO account gets a session"],
        ),
        WorkItem(
            key="T2",
            title="CSV export",
            body="Export widgets.",
            requirement_ids=["FR-002"],
            depends_on=["T1"],
        ),
        WorkItem(
            key="T3",
            title="Export audit log",
            body="Log exports.",
            requirement_ids=["FR-003"],
            depends_on=["T2", "T1"],
        ),
    ]
    prd = Prd(sha256="0" * 64, title="Widget exports", requirements=requirements)
    plan = Plan(summary="Sign-in, export, audit.", architecture=ArchitecturePack(), items=items)
    return Run(
        run_id=run_id,
        status=RunStatus.SYNCING,
        requester="U0REQUESTER",
        channel="C0PLANS",
        thread_ts="1700000000.000100",
        repo=REPO,
        prd=prd,
        plan=plan,
        plan_hash=plan.content_hash(),
        approvals=[
            Approval(user="U0APPROVER", plan_hash=plan.content_hash(), at=datetime(2025, 1, 2, 3, 4, tzinfo=UTC))
        ],
    )
