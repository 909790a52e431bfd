"""Policies: `policies/*.yml` loaded into typed objects, and the pure decisions made from them.

A missing file means the shipped defaults (the same values as the files in `policies/`). An
invalid file stops start-up with a `ConfigError` naming the file, the line and the reason.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.domain.models import Run
from bot.errors import ConfigError


class _Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApprovalRule(_Policy):
    # Slack user ids (U…) allowed to approve; "*" means any member of the workspace.
    allow_users: list[str] = Field(default_factory=lambda: ["*"])
    # Slack user group ids (S…) whose members may approve.
    allow_groups: list[str] = Field(default_factory=list)
    allow_requester: bool = False
    min_approvals: int = Field(default=1, ge=1, le=10)
    # Backlogs at least this large need `large_backlog_min_approvals`.
    large_backlog_items: int = Field(default=25, ge=1)
    large_backlog_min_approvals: int = Field(default=1, ge=1, le=10)
    # A plan left unapproved longer than this expires.
    approval_window_hours: float = Field(default=72, gt=0)


class ApprovalPolicy(_Policy):
    default: ApprovalRule = Field(default_factory=ApprovalRule)
    # Overrides by Slack channel id, and by repository (`owner/name`, globs allowed).
    channels: dict[str, ApprovalRule] = Field(default_factory=dict)
    repos: dict[str, ApprovalRule] = Field(default_factory=dict)

    def rule_for(self, run: Run) -> ApprovalRule:
        if run.repo:
            for pattern, rule in self.repos.items():
                if fnmatch.fnmatch(run.repo, pattern):
                    return rule
        if run.channel and run.channel in self.channels:
            return self.channels[run.channel]
        return self.default


class Limits(_Policy):
    max_prd_bytes: int = Field(default=200_000, ge=1_000)
    max_items_per_run: int = Field(default=60, ge=1)
    # Repair calls after an LLM planner's first answer when its plan breaks the schema or a check.
    max_repair_rounds: int = Field(default=2, ge=0, le=5)
    # A workspace may not have more than this many runs planning at once.
    max_concurrent_runs_per_workspace: int = Field(default=10, ge=1)
    # GitHub asks for at least one second between content-creating requests.
    github_write_interval_s: float = Field(default=1.0, ge=0)
    # When a run names a repo, run its checks (lint, types, tests, security) in the sandbox before
    # staging; the findings are shown to the approver.
    verify_repo_on_plan: bool = True
    # A run over the workspace limit waits queued; its turn is checked again this often.
    workspace_wait_s: float = Field(default=5.0, gt=0)
    # Crash recovery (bot/services/recovery.py). A worker driving a run holds a lease that lapses
    # this long after its last heartbeat; every worker scans for lapsed runs this often. A run
    # whose worker died is handed on within lease + scan (45 s by default).
    worker_lease_ttl_s: float = Field(default=30.0, ge=1)
    recovery_scan_interval_s: float = Field(default=15.0, gt=0)
    # A run whose worker died this many times is failed with a diagnosis instead of retried.
    max_run_recoveries: int = Field(default=2, ge=0)
    # A sync waiting out a GitHub rate limit or outage is rescheduled at most this many times.
    max_sync_deferrals: int = Field(default=8, ge=0)

    @property
    def recovery_bound_s(self) -> float:
        """How long after its worker dies a run is at most left unattended."""
        return self.worker_lease_ttl_s + self.recovery_scan_interval_s


class GitHubTrigger(_Policy):
    # A push that adds or changes a file matching one of these globs starts a plan for it.
    prd_paths: list[str] = Field(default_factory=lambda: ["docs/prd/*.md", "prd/*.md", "**/PRD.md"])
    # Where the card goes and who is named as requester for pushes.
    channel: str | None = None
    requester: str = "github-push"


class Triggers(_Policy):
    github: GitHubTrigger = Field(default_factory=GitHubTrigger)


class SourcePolicy(_Policy):
    """Which private repositories a `/pass plan owner/name:path` may read, per Slack channel.

    PASS reads with its own token and posts the plan where it was asked, so a private repo
    is read only for channels allowed here; public repos need no entry.
    """

    # Slack channel id (or "*" for every channel) -> repos (`owner/name`, globs allowed).
    private_repos: dict[str, list[str]] = Field(default_factory=dict)

    def allows_private(self, channel: str, repo: str) -> bool:
        patterns = [*self.private_repos.get(channel, []), *self.private_repos.get("*", [])]
        return any(fnmatch.fnmatchcase(repo.lower(), p.lower()) for p in patterns)


class Policies(_Policy):
    approvals: ApprovalPolicy = Field(default_factory=ApprovalPolicy)
    limits: Limits = Field(default_factory=Limits)
    triggers: Triggers = Field(default_factory=Triggers)
    sources: SourcePolicy = Field(default_factory=SourcePolicy)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def may_approve(rule: ApprovalRule, run: Run, user: str, user_groups: frozenset[str] = frozenset()) -> Decision:
    """May `user` approve `run` under `rule`? Pure; the reason is shown to the person."""
    if user == run.requester and not rule.allow_requester:
        return Decision(False, "You requested this run, and the policy needs someone else to approve it.")
    if "*" in rule.allow_users or user in rule.allow_users:
        return Decision(True, "allowed by the approval policy")
    if user_groups & set(rule.allow_groups):
        return Decision(True, "allowed as a member of an approver group")
    return Decision(False, "You are not on this channel's or repo's approver list (policies/approvals.yml).")


@dataclass(frozen=True)
class SlackTeams:
    """The Slack teams behind a click: the clicker's (`user.team_id`, None when Slack sent none)
    and PASS's own (from auth.test, None when it could not be read)."""

    user: str | None
    home: str | None


def team_decision(run: Run, teams: SlackTeams | None) -> Decision:
    """Is the clicker in the Slack team whose members may decide `run`? Pure.

    That is the run's own team when it recorded one at intake, else PASS's home team. `teams`
    None is a decision made outside Slack (the terminal). A click with a team missing on
    either side is refused: fail closed.
    """
    if teams is None:
        return Decision(True, "decided outside Slack")
    expected = run.team_id or teams.home
    if expected is None or teams.user is None:
        return Decision(False, "PASS could not confirm which Slack workspace this run belongs to; try again shortly.")
    if teams.user != expected:
        return Decision(
            False,
            "You are in another Slack workspace than the one this run was asked from (a shared channel): "
            "only its own members can approve or reject it.",
        )
    return Decision(True, "in the run's Slack workspace")


def on_behalf_decision(run: Run, user: str) -> Decision:
    """May `user` approve `run` given whom its API caller named? Pure.

    The person an API token said it asked for never approves that run: naming someone must
    not turn their click into a second pair of eyes on a request they may never have made.
    """
    if run.on_behalf_of is not None and user == run.on_behalf_of:
        return Decision(
            False,
            f"This run was requested through the API by `{run.requester}` on your behalf, so someone "
            "else needs to approve it.",
        )
    return Decision(True, "not the person the run was asked for")


def approvals_needed(rule: ApprovalRule, run: Run) -> int:
    items = len(run.plan.items) if run.plan else 0
    needed = rule.min_approvals
    if items >= rule.large_backlog_items:
        needed = max(needed, rule.large_backlog_min_approvals)
    return needed


def approval_deadline(rule: ApprovalRule, staged_at: datetime) -> datetime:
    return staged_at + timedelta(hours=rule.approval_window_hours)


M = TypeVar("M", bound=BaseModel)


def _load_file(path: Path, model: type[M]) -> M:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from exc
    try:
        data: Any = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}" if mark is not None else "unknown line"
        raise ConfigError(f"{path}: {line}: invalid YAML ({getattr(exc, 'problem', exc)})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: line 1: expected a mapping at the top level")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        line_no = _line_of(text, str(first["loc"][0])) if first["loc"] else 1
        raise ConfigError(f"{path}: line {line_no}: {where}: {first['msg']}") from exc


def _line_of(text: str, key: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith(f"{key}:"):
            return number
    return 1


def load_policies(policy_dir: Path) -> Policies:
    approvals_file = policy_dir / "approvals.yml"
    limits_file = policy_dir / "limits.yml"
    triggers_file = policy_dir / "triggers.yml"
    sources_file = policy_dir / "sources.yml"
    return Policies(
        approvals=_load_file(approvals_file, ApprovalPolicy) if approvals_file.exists() else ApprovalPolicy(),
        limits=_load_file(limits_file, Limits) if limits_file.exists() else Limits(),
        triggers=_load_file(triggers_file, Triggers) if triggers_file.exists() else Triggers(),
        sources=_load_file(sources_file, SourcePolicy) if sources_file.exists() else SourcePolicy(),
    )
