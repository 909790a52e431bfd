"""The stop-line: a person approves or rejects a staged plan, or its approval window runs out.

Nothing is written outside PASS before this step says yes. Each decision is a compare-and-set on
the store, so a double click or two approvers at once count once, and a click on a card drawn for
an older plan is refused. A refusal is a value with a reason for the person, never an exception.

One decision is one use case here, whatever asked for it (a Slack click, the CLI): the run is
read once, its approval rule looked up once, the person's approver groups asked of the
directory, the decision recorded, and, when a click completes the approvals, the sync queued.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.approval_evidence import approval_seal
from bot.domain.models import Actor, Approval, OnEarlierSync, Plan, Run, Source, utcnow
from bot.domain.status import RunStatus
from bot.errors import PassError, TransitionConflict
from bot.policies import (
    ApprovalRule,
    Policies,
    SlackTeams,
    approval_deadline,
    approvals_needed,
    may_approve,
    on_behalf_decision,
    team_decision,
)
from bot.services.ports import ApproverDirectory, QueueRunJob, RunStore
from bot.services.runs import RunListener


@dataclass(frozen=True)
class ApprovalOutcome:
    accepted: bool
    run: Run
    message: str
    # True when this click completed the approvals: the caller starts the sync (once).
    now_approved: bool = False


class Approvals:
    """Approve, reject and expire staged runs. `changed` is told of every change it makes (the
    run pipeline's `RunService.notify`, so the same listeners redraw the cards).

    `approvers` says who is in the policy's approver groups (none without one: only people named
    by id count). `queue_sync` queues the sync job of a run the moment it is approved; without it
    (the CLI, which syncs in the foreground) the caller starts the sync on `now_approved`."""

    def __init__(
        self,
        store: RunStore,
        policies: Policies,
        *,
        changed: RunListener,
        seal_key: bytes | None = None,
        approvers: ApproverDirectory | None = None,
        queue_sync: QueueRunJob | None = None,
    ) -> None:
        self.store = store
        self.policies = policies
        self._changed = changed
        # Seals each approval event; the sync checks the seal (bot/domain/approval_evidence.py).
        self._seal_key = seal_key
        self._approvers = approvers
        self._queue_sync = queue_sync

    async def _groups(self, rule: ApprovalRule, user: str) -> frozenset[str]:
        """The rule's groups `user` is in. Asked only when the rule names groups and does not
        already allow the person by id."""
        if self._approvers is None or not rule.allow_groups:
            return frozenset()
        if "*" in rule.allow_users or user in rule.allow_users:
            return frozenset()
        return await self._approvers.member_of(user, rule.allow_groups)

    async def approve(
        self,
        run_id: str,
        *,
        user: str,
        via: str,
        plan_hash: str | None,
        operator: bool = False,
        selected_keys: frozenset[str] | None = None,
        teams: SlackTeams | None = None,
        on_earlier: OnEarlierSync | None = None,
    ) -> ApprovalOutcome:
        """Record one approval. `operator=True` is the CLI operator of a CLI run (the policy's
        "approved at the terminal" rule). Refusals are values with a reason, never exceptions.

        `teams` (a Slack click's): the clicker must be in the run's Slack team, or in PASS's own
        for a run that came from outside Slack (`team_decision`).

        `selected_keys` approves only those work items: the run's plan becomes that selection (its
        plan hash with it), in the same atomic step as the approval. Approvals given for another
        version of the plan do not count towards the new one.

        `on_earlier`: when this PRD was synced to the repo before, skip it or update those issues."""
        run = await self.store.get(run_id)
        rule = self.policies.approvals.rule_for(run)
        user_groups = await self._groups(rule, user)
        refusal = self._refusal(run, rule, user, plan_hash, user_groups, operator)
        if refusal is None:
            team = team_decision(run, teams)
            refusal = None if team.allowed else team.reason
        narrowed: Plan | None = None
        if refusal is None and selected_keys is not None and run.plan is not None:
            narrowed, refusal = select_items(run.plan, selected_keys)
        if refusal is not None:
            await self.store.record(run_id, actor=Actor.HUMAN, actor_id=user, action="approval.refused", reason=refusal)
            return ApprovalOutcome(False, run, refusal)
        needed = 1 if operator else approvals_needed(rule, run)
        seen_hash = run.plan_hash

        def add(r: Run) -> Run:
            if r.plan_hash != seen_hash:
                # The plan changed between the read above and this transaction.
                raise _StalePlan()
            if narrowed is not None:
                r = r.model_copy(update={"plan": narrowed, "plan_hash": narrowed.content_hash()})
            if on_earlier is not None:
                r = r.model_copy(update={"on_earlier": on_earlier})
            if any(a.user == user and a.decision == "approve" and a.plan_hash == r.plan_hash for a in r.approvals):
                return r
            approval = Approval(user=user, via=via, plan_hash=r.plan_hash or "")
            return r.model_copy(update={"approvals": [*r.approvals, approval]})

        def decide(r: Run) -> RunStatus | None:
            return RunStatus.APPROVED if _approvers(r) >= needed else None

        # What the sync will check this approval against (bot/domain/approval_evidence.py): who was
        # allowed by which rule is sealed into the event, since group membership is not kept.
        detail: dict[str, object] = {
            "via": via,
            "plan_hash": run.plan_hash,
            "needed": needed,
            "operator": operator,
            "approver_groups": sorted(user_groups & set(rule.allow_groups)),
        }
        approved = narrowed.content_hash() if narrowed is not None else (run.plan_hash or "")
        # The choice for a PRD synced before is sealed with the approval: the sync rewrites earlier
        # issues only when an approval chose it (bot/domain/approval_evidence.py).
        choice = on_earlier if on_earlier is not None else (run.on_earlier if run.earlier_sync is not None else None)
        if choice is not None:
            detail["on_earlier"] = choice
        if self._seal_key is not None:
            detail["seal"] = approval_seal(
                self._seal_key,
                run_id=run_id,
                user=user,
                plan_hash=approved,
                operator=operator,
                groups=sorted(user_groups & set(rule.allow_groups)),
                on_earlier=choice,
            )
        if narrowed is not None and run.plan is not None:
            kept = {i.key for i in narrowed.items}
            detail["selected"] = sorted(kept)
            detail["deselected"] = sorted(i.key for i in run.plan.items if i.key not in kept)
            detail["approved_plan_hash"] = narrowed.content_hash()
        try:
            updated = await self.store.transition(
                run_id,
                RunStatus.AWAITING_APPROVAL,
                decide,
                actor=Actor.HUMAN,
                actor_id=user,
                action="approval.recorded",
                mutate=add,
                detail=detail,
            )
        except TransitionConflict as conflict:
            latest = await self.store.get(run_id)
            return ApprovalOutcome(False, latest, f"This run is already {conflict.actual.replace('_', ' ')}.")
        except _StalePlan:
            latest = await self.store.get(run_id)
            return ApprovalOutcome(
                False, latest, "The plan changed while you were approving it; approve the current card."
            )
        await self._changed(updated)
        if updated.status is RunStatus.APPROVED:
            if self._queue_sync is not None:
                # Only the click that completed the approvals gets here (the store's compare-and-set),
                # and the queue's key would fold a second enqueue anyway.
                await self._queue_sync(run_id)
            return ApprovalOutcome(True, updated, f"Approved by {user}.", now_approved=True)
        return ApprovalOutcome(True, updated, f"Approval recorded ({_approvers(updated)} of {needed}).")

    def _refusal(
        self, run: Run, rule: ApprovalRule, user: str, plan_hash: str | None, groups: frozenset[str], operator: bool
    ) -> str | None:
        if run.status is not RunStatus.AWAITING_APPROVAL:
            return f"This run is {run.status.value.replace('_', ' ')}; there is nothing to approve."
        if plan_hash is not None and plan_hash != run.plan_hash:
            return "This button belongs to an older version of the plan; approve the current card instead."
        staged_at = run.entered_at(RunStatus.AWAITING_APPROVAL) or run.updated_at
        if utcnow() > approval_deadline(rule, staged_at):
            return "This plan's approval window has passed; start a new run."
        if operator:
            if run.source is not Source.CLI:
                return "Only runs started from the CLI are approved at the terminal."
            return None
        if any(a.user == user and a.decision == "approve" and a.plan_hash == run.plan_hash for a in run.approvals):
            return "You have already approved this run."
        decision = on_behalf_decision(run, user)
        if decision.allowed:
            decision = may_approve(rule, run, user, groups)
        return None if decision.allowed else decision.reason

    async def reject(
        self,
        run_id: str,
        *,
        user: str,
        reason: str = "",
        via: str = "slack",
        teams: SlackTeams | None = None,
    ) -> ApprovalOutcome:
        run = await self.store.get(run_id)
        rule = self.policies.approvals.rule_for(run)
        user_groups = await self._groups(rule, user)
        # Whoever may approve may reject (the requester too: withdrawing one's own plan is fine).
        decision = team_decision(run, teams)
        if decision.allowed:
            decision = may_approve(rule.model_copy(update={"allow_requester": True}), run, user, user_groups)
        if not decision.allowed:
            return ApprovalOutcome(False, run, decision.reason)
        rejection = Approval(user=user, decision="reject", via=via, plan_hash=run.plan_hash or "", reason=reason)
        try:
            updated = await self.store.transition(
                run_id,
                RunStatus.AWAITING_APPROVAL,
                RunStatus.REJECTED,
                actor=Actor.HUMAN,
                actor_id=user,
                action="run.rejected",
                mutate=lambda r: r.model_copy(update={"approvals": [*r.approvals, rejection]}),
                reason=reason,
            )
        except TransitionConflict as conflict:
            latest = await self.store.get(run_id)
            return ApprovalOutcome(False, latest, f"This run is already {conflict.actual.replace('_', ' ')}.")
        await self._changed(updated)
        return ApprovalOutcome(True, updated, f"Rejected by {user}.")

    async def expire_if_due(self, run_id: str) -> Run:
        run = await self.store.get(run_id)
        rule = self.policies.approvals.rule_for(run)
        staged_at = run.entered_at(RunStatus.AWAITING_APPROVAL) or run.updated_at
        if run.status is RunStatus.AWAITING_APPROVAL and utcnow() > approval_deadline(rule, staged_at):
            run = await self.store.transition(
                run_id,
                RunStatus.AWAITING_APPROVAL,
                RunStatus.EXPIRED,
                actor=Actor.SYSTEM,
                actor_id="pass",
                action="run.expired",
                reason="approval window passed",
            )
            await self._changed(run)
        return run


class _StalePlan(PassError):
    """Raised inside an approval's transaction when the plan hash moved under it."""


def _approvers(run: Run) -> int:
    """Distinct people who approved the run's current plan (its current hash)."""
    return len({a.user for a in run.approvals if a.decision == "approve" and a.plan_hash == run.plan_hash})


def select_items(plan: Plan, keys: frozenset[str]) -> tuple[Plan | None, str | None]:
    """The plan narrowed to `keys` (dependencies on dropped items removed), or why not."""
    known = {i.key for i in plan.items}
    unknown = sorted(keys - known)
    if unknown:
        return None, f"These items are not in the plan: {', '.join(unknown[:5])}."
    if not keys:
        return None, "Select at least one item to approve, or reject the plan."
    if keys == known:
        return None, None
    items = [
        i.model_copy(
            update={
                "depends_on": [d for d in i.depends_on if d in keys],
                "dependency_reasons": {d: why for d, why in i.dependency_reasons.items() if d in keys},
            }
        )
        for i in plan.items
        if i.key in keys
    ]
    return plan.model_copy(update={"items": items}), None
