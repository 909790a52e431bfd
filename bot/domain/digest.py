"""A digest's content, assembled from run records and policies (pure: no Slack, no Redis).

What counts:
- *runs in the period*: submitted in it, or moved to a new state in it; each is counted once,
  under its current state, so a run planned yesterday and synced today shows as synced.
- *approvals waiting*: every run in `awaiting_approval` now, however old, oldest staged first.
- pass rate and lead times: the metrics (bot/domain/metrics.py) of the runs in the period.
- token spend: the period's runs, and today's (in the schedule's time zone) against the budget.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, tzinfo

from pydantic import BaseModel, ConfigDict

from bot.domain.metrics import Distribution, failure_cause, run_metrics, summarize
from bot.domain.models import Run
from bot.domain.status import RunStatus
from bot.policies import ApprovalPolicy

# Outcome rows in the order a reader scans them; in-flight states are folded into one row.
OUTCOMES: tuple[tuple[str, frozenset[RunStatus]], ...] = (
    ("synced", frozenset({RunStatus.SYNCED})),
    ("awaiting approval", frozenset({RunStatus.AWAITING_APPROVAL})),
    (
        "in progress",
        frozenset(
            {
                RunStatus.QUEUED,
                RunStatus.CHECKING,
                RunStatus.PLANNING,
                RunStatus.VERIFYING,
                RunStatus.APPROVED,
                RunStatus.SYNCING,
            }
        ),
    ),
    ("rejected", frozenset({RunStatus.REJECTED})),
    ("blocked", frozenset({RunStatus.BLOCKED})),
    ("failed", frozenset({RunStatus.FAILED})),
    ("expired", frozenset({RunStatus.EXPIRED})),
    ("cancelled", frozenset({RunStatus.CANCELLED})),
)


# A dry-run sync wrote nothing to GitHub: counted apart from real syncs.
DRY_RUN_OUTCOME = "staged (dry run)"


def outcome_label(run: Run) -> str:
    if run.status is RunStatus.SYNCED and run.sync.dry_run:
        return DRY_RUN_OUTCOME
    return next((label for label, states in OUTCOMES if run.status in states), run.status.value)


def _outcome_order() -> list[str]:
    labels = [label for label, _ in OUTCOMES]
    return [*labels[:1], DRY_RUN_OUTCOME, *labels[1:]]


class _Value(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WaitingApproval(_Value):
    run_id: str
    title: str
    requester: str
    channel: str | None
    repo: str | None
    staged_at: datetime
    waited: timedelta
    overdue: bool
    # Slack mentions of who may approve (`<@U…>`, `<!subteam^S…>`); empty when anyone may.
    approvers: list[str]
    anyone_may_approve: bool


class Digest(_Value):
    channel: str
    since: datetime
    until: datetime
    timezone: str
    # The cron slot this digest is for (None: sent on demand) and how late it went out.
    slot: datetime | None = None
    late_by: timedelta | None = None
    runs: int
    outcomes: dict[str, int]
    waiting: list[WaitingApproval]
    nudge_after: timedelta
    verification_passed: int
    verification_failed: int
    pass_rate: float | None
    lead_time_staged: Distribution
    lead_time_synced: Distribution
    tokens: int
    cost_usd: float
    tokens_today: int
    daily_token_budget: int
    failure_causes: list[tuple[str, int]]

    @property
    def overdue(self) -> list[WaitingApproval]:
        return [w for w in self.waiting if w.overdue]


def touched_in(run: Run, since: datetime, until: datetime) -> bool:
    if since <= run.created_at <= until:
        return True
    return any(since <= t.at <= until for t in run.history)


def approvers(policy: ApprovalPolicy, run: Run) -> tuple[list[str], bool]:
    """Mentions of the people and groups allowed to approve `run`, and whether anyone may."""
    rule = policy.rule_for(run)
    anyone = "*" in rule.allow_users
    users = [f"<@{u}>" for u in rule.allow_users if u != "*" and (u != run.requester or rule.allow_requester)]
    groups = [f"<!subteam^{g}>" for g in rule.allow_groups]
    return ([] if anyone else [*users, *groups]), anyone


def waiting_approvals(
    runs: list[Run], policy: ApprovalPolicy, *, now: datetime, nudge_after: timedelta
) -> list[WaitingApproval]:
    out: list[WaitingApproval] = []
    for run in runs:
        if run.status is not RunStatus.AWAITING_APPROVAL:
            continue
        staged_at = run.entered_at(RunStatus.AWAITING_APPROVAL) or run.updated_at
        waited = max(now - staged_at, timedelta(0))
        mentions, anyone = approvers(policy, run)
        out.append(
            WaitingApproval(
                run_id=run.run_id,
                title=run.prd.title if run.prd else "(no title)",
                requester=run.requester,
                channel=run.channel,
                repo=run.repo,
                staged_at=staged_at,
                waited=waited,
                overdue=waited > nudge_after,
                approvers=mentions,
                anyone_may_approve=anyone,
            )
        )
    return sorted(out, key=lambda w: (w.staged_at, w.run_id))


def assemble_digest(
    runs: list[Run],
    *,
    channel: str,
    since: datetime,
    until: datetime,
    zone: tzinfo,
    approvals: ApprovalPolicy,
    nudge_after: timedelta,
    daily_token_budget: int = 0,
    top_causes: int = 5,
    only_channel: bool = False,
    slot: datetime | None = None,
    late_by: timedelta | None = None,
) -> Digest:
    """Everything a digest says, from the runs the caller loaded (any superset will do)."""
    scope = [r for r in runs if not only_channel or r.channel == channel]
    period = [r for r in scope if touched_in(r, since, until)]
    items = [run_metrics(r, tz=zone) for r in period]
    group = summarize("period", items)
    counts = Counter(outcome_label(r) for r in period)
    outcomes = {label: counts[label] for label in _outcome_order()}
    today = until.astimezone(zone).date()
    tokens_today = sum(
        r.usage.prompt_tokens + r.usage.completion_tokens
        for r in scope
        if r.created_at.astimezone(zone).date() == today and r.created_at <= until
    )
    causes = Counter(c for c in (failure_cause(r) for r in period) if c is not None)
    return Digest(
        channel=channel,
        since=since,
        until=until,
        timezone=str(zone),
        slot=slot,
        late_by=late_by,
        runs=len(period),
        outcomes={k: v for k, v in outcomes.items() if v},
        waiting=waiting_approvals(scope, approvals, now=until, nudge_after=nudge_after),
        nudge_after=nudge_after,
        verification_passed=group.verification_passed,
        verification_failed=group.verification_failed,
        pass_rate=group.pass_rate,
        lead_time_staged=group.lead_time_staged,
        lead_time_synced=group.lead_time_synced,
        tokens=group.prompt_tokens + group.completion_tokens,
        cost_usd=group.cost_usd,
        tokens_today=tokens_today,
        daily_token_budget=daily_token_budget,
        failure_causes=sorted(causes.items(), key=lambda kv: (-kv[1], kv[0]))[:top_causes],
    )
