"""Does the audit log back a run's approval? (pure)

The stop-line's last guard. A run's state says `approved`, but state is only a value in Redis:
anything that reached the store could write it (the attack this answers set another user's run to
approved, added an approval and an extra work item). Before anything is written to GitHub the
sync asks the audit chain instead: an `approval.recorded` event, by a person the policy allows
who is not the requester, for the exact plan about to be published (its content hash, so an
item added or changed afterwards voids it), for as many people as the policy needs.

The same question, asked of every run, is `passbot audit verify`'s check that state has events.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.domain.audit import AuditEvent, chain_hash
from bot.domain.models import Actor, Run, Source
from bot.domain.status import RunStatus
from bot.policies import ApprovalRule, may_approve, on_behalf_decision

APPROVAL_ACTION = "approval.recorded"
# States whose existence implies an approval was given.
APPROVED_STATES = frozenset({RunStatus.APPROVED, RunStatus.SYNCING, RunStatus.SYNCED})


@dataclass(frozen=True)
class Evidence:
    backed: bool
    # For the operator and the audit log: what is missing, in words.
    why: str = ""
    approvers: tuple[str, ...] = ()


def approved_hash(event: AuditEvent) -> str | None:
    """The plan hash an approval event approved: the narrowed plan's when items were selected."""
    value = event.detail.get("approved_plan_hash") or event.detail.get("plan_hash")
    return value if isinstance(value, str) else None


def approval_seal(
    key: bytes,
    *,
    run_id: str,
    user: str,
    plan_hash: str,
    operator: bool,
    groups: Sequence[str],
    on_earlier: str | None = None,
) -> str:
    """An HMAC over what an approval says, with a key kept outside Redis: an event written by
    anything that only reached Redis (even one chained correctly) carries no valid seal.
    `on_earlier` is the approver's choice for a PRD synced before (skip, or rewrite those issues)."""
    fields: list[object] = [run_id, user, plan_hash, operator, sorted(groups)]
    if on_earlier is not None:
        fields.append(on_earlier)
    message = json.dumps(fields, separators=(",", ":"))
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def _choice(event: AuditEvent) -> str | None:
    choice = event.detail.get("on_earlier")
    return choice if isinstance(choice, str) else None


def _sealed(event: AuditEvent, key: bytes, plan_hash: str) -> bool:
    groups = event.detail.get("approver_groups")
    expected = approval_seal(
        key,
        run_id=event.run_id or "",
        user=event.actor_id,
        plan_hash=plan_hash,
        operator=event.detail.get("operator") is True,
        groups=[str(g) for g in groups] if isinstance(groups, list) else [],
        on_earlier=_choice(event),
    )
    seal = event.detail.get("seal")
    return isinstance(seal, str) and hmac.compare_digest(seal, expected)


def approval_evidence(
    run: Run, events: Iterable[AuditEvent], rule: ApprovalRule, *, needed: int, seal_key: bytes | None = None
) -> Evidence:
    """Who may approve is the policy's own decision (`may_approve`, `on_behalf_decision`), asked
    again of each recorded approval with the groups sealed into its event."""
    if run.plan is None or not run.plan_hash:
        return Evidence(False, "the run has no plan to publish")
    if run.plan.content_hash() != run.plan_hash:
        return Evidence(False, "the plan's content does not match its hash: it was changed outside PASS")
    valid: list[str] = []
    update_chosen = False
    operator_approved = False
    recorded_users: set[str] = set()
    unsealed: set[str] = set()
    for event in events:
        if event.run_id != run.run_id or event.action != APPROVAL_ACTION or event.actor is not Actor.HUMAN:
            continue
        if chain_hash(event) != event.hash:
            continue  # an event whose content does not match its own hash proves nothing
        if approved_hash(event) != run.plan_hash:
            continue
        user = event.actor_id
        recorded_users.add(user)
        if seal_key is not None and not _sealed(event, seal_key, run.plan_hash):
            unsealed.add(user)
            continue
        if event.detail.get("operator") is True:
            if run.source is Source.CLI:
                operator_approved = True
                update_chosen |= _choice(event) == "update"
                valid.append(user)
            continue
        groups = event.detail.get("approver_groups")
        sealed_groups = frozenset(map(str, groups)) if isinstance(groups, list) else frozenset()
        if may_approve(rule, run, user, sealed_groups).allowed and on_behalf_decision(run, user).allowed:
            update_chosen |= _choice(event) == "update"
            valid.append(user)
    unbacked = sorted(
        {a.user for a in run.approvals if a.decision == "approve" and a.plan_hash == run.plan_hash} - recorded_users
    )
    if unbacked:
        return Evidence(False, f"approval(s) by {', '.join(unbacked)} are in the run's state but not in the audit log")
    people = tuple(dict.fromkeys(valid))
    needed = 1 if operator_approved else needed
    if len(people) < needed:
        have = f"{len(people)} approval event(s)" if people else "no approval event"
        why = f"{have} for this plan by an allowed approver; the policy needs {needed}"
        if unsealed:
            why += (
                f". The approval event(s) by {', '.join(sorted(unsealed))} carry no valid seal: written without "
                "PASS's approval key (forged), or PASS_APPROVAL_KEY differs between the process that took the "
                "click and this worker"
            )
        return Evidence(False, why, people)
    if run.on_earlier == "update" and not update_chosen:
        # Rewriting the issues of an earlier sync writes to GitHub; skipping writes nothing.
        return Evidence(False, "the run is set to rewrite an earlier sync's issues, but no approval event chose that")
    return Evidence(True, approvers=people)


def state_without_events(runs: Sequence[Run], events: Sequence[AuditEvent]) -> list[str]:
    """Runs whose stored state no audit event accounts for, each as one line for `audit verify`.

    Every change of a run is written with its event in one transaction, so a run's status is the
    status of its newest event that carries one; and a run past approval has approval events."""
    newest_status: dict[str, str] = {}
    by_run: dict[str, list[AuditEvent]] = {}
    for event in events:
        if event.run_id is None:
            continue
        by_run.setdefault(event.run_id, []).append(event)
        if event.status is not None:
            newest_status[event.run_id] = event.status
    problems: list[str] = []
    for run in runs:
        if run.plan is not None and run.plan_hash and run.plan.content_hash() != run.plan_hash:
            problems.append(f"run {run.run_id}'s plan does not match its hash: it was changed without an event")
        recorded = newest_status.get(run.run_id)
        if recorded is None:
            problems.append(f"run {run.run_id} is {run.status.value} but has no audit event at all")
            continue
        if recorded != run.status.value:
            problems.append(
                f"run {run.run_id} is {run.status.value} in the store, but its newest audit event says {recorded}"
            )
        approvals = [e for e in by_run.get(run.run_id, []) if e.action == APPROVAL_ACTION]
        if run.status in APPROVED_STATES and not any(approved_hash(e) == run.plan_hash for e in approvals):
            problems.append(f"run {run.run_id} is {run.status.value} with no {APPROVAL_ACTION} event for its plan")
        recorded_users = {e.actor_id for e in approvals}
        for approval in run.approvals:
            if approval.decision == "approve" and approval.user not in recorded_users:
                problems.append(f"run {run.run_id} lists an approval by {approval.user} that has no audit event")
    return problems
