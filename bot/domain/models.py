"""The domain's values: what a run is made of.

All models are pydantic so that they serialise to the JSON contract in DESIGN.md and parse
back from Redis unchanged. Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Literal

from pydantic import Field

from bot.domain.secrets import redact_strings
from bot.domain.status import RunStatus, check_transition
from bot.domain.values import Model as Model
from bot.domain.values import RequirementCheck as RequirementCheck
from bot.domain.values import Usage as Usage


def utcnow() -> datetime:
    return datetime.now(UTC)


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Actor(str, Enum):
    HUMAN = "human"
    AGENT = "agent"
    SYSTEM = "system"


class Source(str, Enum):
    SLACK = "slack"
    WEBHOOK = "webhook"
    GITHUB = "github"
    API = "api"
    CLI = "cli"
    SCHEDULE = "schedule"


class Requirement(Model):
    id: str
    text: str
    acceptance_criteria: list[str] = Field(default_factory=list)
    section: str = ""
    # True when the id is the PRD's own (FR-001, US-1); False when derived from structure.
    explicit_id: bool = False
    confidential: bool = False


class Prd(Model):
    sha256: str
    title: str
    requirements: list[Requirement]
    text: str = ""
    format: str = "markdown"
    # Sections of the PRD (heading -> body) that a planner may use as context.
    sections: dict[str, str] = Field(default_factory=dict)
    is_template: bool = False

    def requirement(self, requirement_id: str) -> Requirement | None:
        return next((r for r in self.requirements if r.id == requirement_id), None)


class WorkItem(Model):
    key: str
    title: str
    body: str
    requirement_ids: list[str]
    depends_on: list[str] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    estimate: str = "M"
    acceptance_criteria: list[str] = Field(default_factory=list)
    rationale: str = ""
    # Why each dependency exists, one line per key in depends_on ("uses the task model T04 defines").
    # An edge without a reason is flagged by verification (unjustified_dependency) for any planner.
    dependency_reasons: dict[str, str] = Field(default_factory=dict)


class ArchitecturePack(Model):
    overview: str = ""
    components: list[dict[str, str]] = Field(default_factory=list)
    data_flow: list[str] = Field(default_factory=list)
    interfaces: list[str] = Field(default_factory=list)
    risks: list[str] = Field(default_factory=list)
    open_questions: list[str] = Field(default_factory=list)

    def listed_sections(self) -> list[tuple[str, list[str]]]:
        """The list-shaped sections with their headings, in the order every rendering shows them."""
        return [
            ("Data flow", self.data_flow),
            ("Interfaces", self.interfaces),
            ("Risks", self.risks),
            ("Open questions", self.open_questions),
        ]


class Plan(Model):
    summary: str
    architecture: ArchitecturePack
    items: list[WorkItem]

    def content_hash(self) -> str:
        """A stable hash of what would be published: approval is bound to it."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def item(self, key: str) -> WorkItem | None:
        return next((i for i in self.items if i.key == key), None)


class Finding(Model):
    check: str
    severity: Severity
    message: str
    item_key: str | None = None


class PlanShape(Model):
    """How the backlog can be worked: its longest "blocked by" chain and how much runs in parallel."""

    critical_path: list[str] = Field(default_factory=list)
    critical_path_length: int = 0
    # The most items workable at once when each starts as soon as its blockers are done.
    parallel_width: int = 0


class VerificationReport(Model):
    passed: bool
    findings: list[Finding] = Field(default_factory=list)
    shape: PlanShape | None = None

    @classmethod
    def from_findings(cls, findings: list[Finding], shape: PlanShape | None = None) -> VerificationReport:
        return cls(passed=not any(f.severity is Severity.ERROR for f in findings), findings=findings, shape=shape)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]


class Approval(Model):
    user: str
    decision: Literal["approve", "reject"] = "approve"
    via: str = "slack"
    plan_hash: str
    at: datetime = Field(default_factory=utcnow)
    reason: str = ""


class SyncedIssue(Model):
    key: str
    number: int | None = None
    url: str | None = None


class SyncRefusal(Model):
    """A work item that was not published, and why (never the sensitive text itself)."""

    key: str
    reason: Literal["confidential", "secret"]
    detail: str


class SyncResult(Model):
    target: str | None = None
    dry_run: bool = True
    issues: list[SyncedIssue] = Field(default_factory=list)
    note: str = ""
    # The run's tracking issue (lists every item) and the items withheld by the sensitive-data guard.
    tracking: SyncedIssue | None = None
    refusals: list[SyncRefusal] = Field(default_factory=list)


class EarlierSync(Model):
    """An earlier run that synced the same PRD (same sha256) to the same repo: shown on the card,
    so approving again is a choice (skip, or update those issues), never silent duplicates."""

    run_id: str
    repo: str
    issues: list[SyncedIssue] = Field(default_factory=list)
    tracking: SyncedIssue | None = None
    synced_at: datetime | None = None


# What an approval does when the PRD was synced before: write nothing, or rewrite those issues.
OnEarlierSync = Literal["skip", "update"]


class Failure(Model):
    """Why a run stopped: where it was, what broke, and the first lines that matter."""

    step: str
    message: str
    diagnosis: str = ""
    at: datetime = Field(default_factory=utcnow)
    # When the diagnosis reached the person (e.g. posted to the Slack thread); None until then.
    # Time-to-diagnosis is measured from `at` to this (bot/domain/metrics.py).
    diagnosed_at: datetime | None = None


class Transition(Model):
    status: RunStatus
    at: datetime
    actor: Actor = Actor.SYSTEM
    reason: str = ""


class Run(Model):
    run_id: str
    status: RunStatus = RunStatus.QUEUED
    planner: str = "heuristic"
    source: Source = Source.CLI
    requester: str = ""
    # Who an API caller said it asked for (`"requester"` in POST /api/runs). Not trusted: the
    # requester of such a run is the token (`api:<name>`), this person is shown "on behalf of",
    # and may not approve the run (bot/policies.py `on_behalf_decision`).
    on_behalf_of: str | None = None
    # The Slack team id (or "cli"): the scope of per-day cost caps and concurrency limits.
    workspace: str = "default"
    # The Slack team (T…) the run was asked from, recorded at intake; None for runs from outside
    # Slack (their approvers must be in PASS's own team). Approvals count only from that team:
    # a Slack Connect guest from another organisation shares the channel, not the stop-line.
    team_id: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    repo: str | None = None
    prd: Prd | None = None
    plan: Plan | None = None
    plan_hash: str | None = None
    verification: VerificationReport | None = None
    requirements: list[RequirementCheck] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    sync: SyncResult = Field(default_factory=SyncResult)
    approvals: list[Approval] = Field(default_factory=list)
    failure: Failure | None = None
    retries: int = 0
    isolation: str | None = None
    # What the run waits for while it cannot go on (a workspace slot, GitHub's rate limit), shown
    # to people; cleared when it moves on.
    waiting: str | None = None
    # How often its worker died under it and another took it over (bot/services/recovery.py).
    recoveries: int = 0
    # Set at staging when this PRD was already synced to this repo; `on_earlier` is the approver's choice.
    earlier_sync: EarlierSync | None = None
    on_earlier: OnEarlierSync = "skip"
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    history: list[Transition] = Field(default_factory=list)

    def moved(self, target: RunStatus, *, at: datetime, actor: Actor = Actor.SYSTEM, reason: str = "") -> Run:
        """A copy of this run in `target`, checked against the state machine."""
        check_transition(self.status, target)
        return self.model_copy(
            update={
                "status": target,
                "updated_at": at,
                "waiting": None,
                "history": [*self.history, Transition(status=target, at=at, actor=actor, reason=reason)],
            }
        )

    def entered_at(self, status: RunStatus) -> datetime | None:
        return next((t.at for t in self.history if t.status is status), None)

    def contract(self) -> dict[str, Any]:
        """The run object of DESIGN.md's JSON contract (plus a few traceability fields), as every
        output shows it (`--json`, the API, plan.json): with any secret redacted."""
        empty_plan: dict[str, Any] = {"summary": "", "architecture": {}, "items": []}
        prd = self.prd.model_dump(mode="json", include={"sha256", "title"}) if self.prd else None
        if self.prd and prd is not None:
            prd["requirements"] = [{"id": r.id, "text": r.text} for r in self.prd.requirements]
        contract: dict[str, Any] = {
            "run_id": self.run_id,
            "status": self.status.value,
            "planner": self.planner,
            "prd": prd or {"sha256": "", "title": "", "requirements": []},
            "plan": self.plan.model_dump(mode="json") if self.plan else empty_plan,
            "verification": (self.verification or VerificationReport(passed=False)).model_dump(mode="json"),
            "requirements": [r.model_dump(mode="json") for r in self.requirements],
            "usage": self.usage.model_dump(mode="json"),
            "sync": self.sync.model_dump(mode="json", include={"target", "dry_run", "issues"}),
            "plan_hash": self.plan_hash,
            "source": self.source.value,
            "requester": self.requester,
            "on_behalf_of": self.on_behalf_of,
            "repo": self.repo,
            "approvals": [a.model_dump(mode="json") for a in self.approvals],
            "failure": self.failure.model_dump(mode="json") if self.failure else None,
            "retries": self.retries,
            "isolation": self.isolation,
            "waiting": self.waiting,
            "recoveries": self.recoveries,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }
        redacted: dict[str, Any] = redact_strings(contract)
        return redacted
