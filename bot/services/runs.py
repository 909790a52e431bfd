"""The run pipeline: submit, execute (check → plan → verify → stage), then, once approved, sync.

The stop-line between staging and sync (approve, reject, expire) is bot/services/approvals.py; it
tells the same listeners of its changes through `RunService.notify`. The sync stays here: it ends
a run the way the other steps do (blocked, failed, waiting), with the same helpers.

Every step is a compare-and-set on the store, so a Slack retry, a double click or two workers
never move one run twice. A *failure the user can fix* (template PRD, missing token, cost cap)
ends the run as `blocked` with the fix; an unexpected error ends it as `failed` with a diagnosis.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.domain.approval_evidence import approval_evidence
from bot.domain.cost import cap_reached_requirement
from bot.domain.diagnosis import diagnose, exc_diagnosis
from bot.domain.earlier_sync import skipped_sync
from bot.domain.injection import find_agent_directives
from bot.domain.item_safety import CONTAINS_SECRET
from bot.domain.models import (
    Actor,
    EarlierSync,
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
    utcnow,
)
from bot.domain.secrets import redact
from bot.domain.status import RunStatus
from bot.domain.verification import check_prd_content, verify_backlog
from bot.errors import (
    BadInput,
    CostCapReached,
    LlmError,
    PassError,
    RequirementsMissing,
    RunNotFound,
    SyncDeferred,
    TransitionConflict,
)
from bot.logging import get_logger
from bot.planner.port import Planner, PlanningContext, PlanOutcome
from bot.planner.prd import parse_prd
from bot.policies import Policies, approvals_needed
from bot.sandbox.errors import AgentFailed, IsolationBelowMinimum, SandboxError
from bot.services.issue_tracker import TrackerRateLimited, TrackerUnavailable
from bot.services.ports import RunStore, Syncer, SyncProgress
from bot.services.sync_outages import outage_failure, outage_wait, waiting_text
from bot.verify.repo import RepoVerification

RunListener = Callable[[Run], Awaitable[None]]
log = get_logger(__name__)


class RepoVerifier(Protocol):
    async def verify(self, target: str) -> RepoVerification: ...


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


class RunService:
    def __init__(
        self,
        store: RunStore,
        planner: Planner,
        syncer: Syncer,
        policies: Policies,
        *,
        listeners: list[RunListener] | None = None,
        repo_checks: RepoVerifier | None = None,
        approval_key: bytes | None = None,
    ) -> None:
        self.store = store
        self.planner = planner
        self.syncer = syncer
        self.policies = policies
        self._listeners = listeners or []
        # Shift-left: when a run names a repo, its lint/type/test/security checks run before staging.
        self.repo_checks = repo_checks
        # The key approval events are sealed with (the stop-line uses the same one).
        self.approval_key = approval_key

    def add_listener(self, listener: RunListener) -> None:
        self._listeners.append(listener)

    async def notify(self, run: Run) -> None:
        """Tell every listener that `run` changed (the stop-line in bot/services/approvals.py calls
        this too, so one set of listeners follows every change)."""
        for listener in self._listeners:
            await listener(run)

    # --- intake ------------------------------------------------------------------------------

    def parse(self, raw: bytes | str) -> Prd:
        """Parse a PRD or raise `PrdRejected` with a message for the person who sent it."""
        return parse_prd(raw, max_bytes=self.policies.limits.max_prd_bytes)

    async def submit(
        self,
        raw: bytes | str,
        *,
        source: Source,
        requester: str,
        channel: str | None = None,
        thread_ts: str | None = None,
        repo: str | None = None,
        dedupe: str | tuple[str, ...] | None = None,
        workspace: str = "default",
        team_id: str | None = None,
        on_behalf_of: str | None = None,
    ) -> tuple[Run, bool]:
        """Create a queued run. A repeated dedupe key returns the first run (created=False)."""
        prd = self.parse(raw)
        run = Run(
            run_id=new_run_id(),
            planner=self.planner.name,
            source=source,
            requester=requester,
            workspace=workspace,
            team_id=team_id,
            on_behalf_of=on_behalf_of,
            channel=channel,
            thread_ts=thread_ts,
            repo=repo,
            prd=prd,
            sync=self._sync_target(repo),
        )
        run, created = await self.store.create(
            run,
            actor=Actor.HUMAN if source in {Source.SLACK, Source.CLI} else Actor.SYSTEM,
            actor_id=requester,
            dedupe=dedupe,
            detail={"prd_sha256": prd.sha256, "repo": repo, "channel": channel},
        )
        if created:
            await self.notify(run)
        return run, created

    def _sync_target(self, repo: str | None) -> SyncResult:
        return SyncResult(target=repo, dry_run=self.syncer.target_kind == "dry-run")

    # --- execution ---------------------------------------------------------------------------

    async def execute(self, run_id: str) -> Run:
        """Drive a queued run to `awaiting_approval`, `blocked` or `failed`."""
        run = await self._move(run_id, RunStatus.QUEUED, RunStatus.CHECKING, "requirements.checking")
        try:
            run = await self._check(run)
            if run.status is RunStatus.BLOCKED:
                return run
            run = await self._plan(run)
            return await self._verify(run)
        except RequirementsMissing as blocked:
            return await self._block(run.run_id, blocked.checks, str(blocked))
        except IsolationBelowMinimum as weak:
            return await self._block(run.run_id, [weak.requirement], str(weak))
        except AgentFailed as agent:
            await self._add_usage(run.run_id, agent.usage)
            failure = Failure(step="planning", message=redact(str(agent))[:500], diagnosis=agent.diagnosis)
            return await self.fail(run.run_id, failure)
        except CostCapReached as capped:
            # A cap is a limit the team set, not a crash: the run is blocked with spend and cap.
            await self._add_usage(run.run_id, capped.usage)
            return await self._block(run.run_id, [cap_reached_requirement(capped)], str(capped))
        except LlmError as exc:
            await self._add_usage(run.run_id, exc.usage)
            failure = Failure(step="planning", message=redact(str(exc))[:500], diagnosis=exc_diagnosis(exc))
            return await self.fail(run.run_id, failure)
        except PassError as exc:
            if isinstance(exc, TransitionConflict):
                raise
            return await self._fail(run.run_id, exc)
        except Exception as exc:  # noqa: BLE001 - any error becomes a visible, diagnosed failure
            return await self._fail(run.run_id, exc)

    async def _add_usage(self, run_id: str, usage: Usage | None) -> None:
        if usage is None or not (usage.prompt_tokens or usage.completion_tokens):
            return
        current = await self.store.get(run_id)
        await self.store.transition(
            run_id,
            current.status,
            None,
            actor=Actor.AGENT,
            actor_id=self.planner.name,
            action="llm.usage",
            mutate=lambda r: r.model_copy(update={"usage": r.usage + usage}),
            detail=usage.model_dump(),
        )

    async def _check(self, run: Run) -> Run:
        assert run.prd is not None
        prd_findings = check_prd_content(run.prd)
        checks = [
            RequirementCheck(
                name="PRD has content to plan",
                ok=not prd_findings,
                fix=None if not prd_findings else prd_findings[0].message,
            ),
            *(await self.syncer.check_requirements(run)),
        ]
        if not all(c.ok for c in checks):
            return await self._block(run.run_id, checks, "A requirement is missing.", findings=prd_findings)
        return await self.store.transition(
            run.run_id,
            RunStatus.CHECKING,
            RunStatus.PLANNING,
            actor=Actor.SYSTEM,
            actor_id="pass",
            action="requirements.checked",
            mutate=lambda r: r.model_copy(update={"requirements": checks}),
            detail={"checks": [c.model_dump() for c in checks]},
        )

    async def _plan(self, run: Run) -> Run:
        assert run.prd is not None
        await self.notify(run)
        context = PlanningContext(
            run_id=run.run_id,
            repo=run.repo,
            max_items=self.policies.limits.max_items_per_run,
            max_repair_rounds=self.policies.limits.max_repair_rounds,
            workspace=run.workspace,  # the daily cost cap is per workspace
        )
        outcome: PlanOutcome = await self.planner.plan(run.prd, context)
        plan = outcome.plan

        def with_plan(r: Run) -> Run:
            return r.model_copy(
                update={
                    "plan": plan,
                    "usage": r.usage + outcome.usage,
                    "retries": r.retries + outcome.retries,
                    "isolation": outcome.isolation or r.isolation,
                    "verification": VerificationReport(passed=False, findings=list(outcome.findings)),
                }
            )

        return await self.store.transition(
            run.run_id,
            RunStatus.PLANNING,
            RunStatus.VERIFYING,
            actor=Actor.AGENT,
            actor_id=self.planner.name,
            action="plan.proposed",
            mutate=with_plan,
            detail={
                "items": len(plan.items),
                "prompt_tokens": outcome.usage.prompt_tokens,
                "completion_tokens": outcome.usage.completion_tokens,
                "cost_usd": outcome.usage.cost_usd,
                "retries": outcome.retries,
            },
        )

    async def _verify(self, run: Run) -> Run:
        assert run.prd is not None and run.plan is not None
        await self.notify(run)
        report = verify_backlog(run.prd, run.plan, max_items=self.policies.limits.max_items_per_run)
        earlier = run.verification.findings if run.verification else []
        # Verification names each secret once per item; the planner's own check of the same item
        # would say it again.
        flagged = {f.item_key for f in report.findings if f.check == "secrets"}
        earlier = [f for f in earlier if not (f.check == CONTAINS_SECRET and f.item_key in flagged)]
        findings: list[Finding] = [*earlier, *report.findings]
        if run.planner == "heuristic":
            # The LLM planner reports agent-directed text itself; the heuristic one never reads it as
            # instructions, but the person should still know the PRD contains some.
            findings.extend(find_agent_directives(run.prd.text))
            findings.append(
                Finding(
                    check="planner",
                    severity=Severity.INFO,
                    message="Planned offline by the heuristic planner (no LLM). Set OPENAI_API_KEY for an LLM plan.",
                )
            )
        if run.repo and self.repo_checks is not None:
            findings.extend(await self._repo_findings(run.repo))
        final = VerificationReport.from_findings(findings, shape=report.shape)
        plan_hash = run.plan.content_hash()
        target = RunStatus.AWAITING_APPROVAL if final.passed else RunStatus.BLOCKED
        synced_before = await self.earlier_sync(run)
        run = await self.store.transition(
            run.run_id,
            RunStatus.VERIFYING,
            target,
            actor=Actor.SYSTEM,
            actor_id="pass",
            action="plan.staged" if final.passed else "verification.failed",
            mutate=lambda r: r.model_copy(
                update={"verification": final, "plan_hash": plan_hash, "earlier_sync": synced_before}
            ),
            reason="" if final.passed else f"verification failed: {len(final.errors)} error(s)",
            detail={
                "plan_hash": plan_hash,
                "passed": final.passed,
                "errors": len(final.errors),
                "earlier_sync": synced_before.run_id if synced_before else None,
            },
        )
        await self.notify(run)
        return run

    async def earlier_sync(self, run: Run) -> EarlierSync | None:
        """The last other run that wrote this PRD (same sha256) to this run's repo, if any."""
        if run.prd is None or not run.repo or self.syncer.target_kind == "dry-run":
            return None
        earlier_id = await self.store.last_synced_run(run.prd.sha256, run.repo)
        if earlier_id is None or earlier_id == run.run_id:
            return None
        try:
            earlier = await self.store.get(earlier_id)
        except RunNotFound:
            return None
        if earlier.status is not RunStatus.SYNCED or earlier.sync.dry_run or not earlier.sync.target:
            return None
        return EarlierSync(
            run_id=earlier.run_id,
            repo=earlier.sync.target,
            issues=[i for i in earlier.sync.issues if i.number is not None],
            tracking=earlier.sync.tracking,
            synced_at=earlier.entered_at(RunStatus.SYNCED),
        )

    async def _repo_findings(self, repo: str) -> list[Finding]:
        """The target repo's own checks, shown to the approver. They describe the repo as it is, not
        the plan, so they are warnings: they inform the approval instead of blocking it."""
        assert self.repo_checks is not None
        try:
            result = await self.repo_checks.verify(repo)
        except (BadInput, SandboxError, OSError) as exc:
            return [
                Finding(check="repo_verification", severity=Severity.WARNING, message=f"{repo} was not verified: {exc}")
            ]
        shown = [
            Finding(
                check=f"repo:{f.check}",
                severity=Severity.WARNING if f.severity is Severity.ERROR else f.severity,
                message=f.message,
            )
            for f in result.findings[:50]
        ]
        summary = (
            f"{repo}: all {len(result.checks)} repo checks passed ({result.isolation} sandbox)."
            if result.diagnosis is None
            else f"{repo}: {result.diagnosis.summary} Likely cause: {result.diagnosis.likely_cause}"
        )
        return [Finding(check="repo_verification", severity=Severity.INFO, message=summary[:1000]), *shown]

    async def _block(
        self, run_id: str, checks: list[RequirementCheck], reason: str, findings: list[Finding] | None = None
    ) -> Run:
        def blocked(r: Run) -> Run:
            report = r.verification or VerificationReport(passed=False)
            merged = [*report.findings, *(findings or [])]
            known = {c.name for c in checks}
            return r.model_copy(
                update={
                    "requirements": [*[c for c in r.requirements if c.name not in known], *checks],
                    "verification": VerificationReport(passed=False, findings=merged, shape=report.shape),
                }
            )

        run = await self.store.transition(
            run_id,
            {RunStatus.CHECKING, RunStatus.PLANNING, RunStatus.VERIFYING, RunStatus.SYNCING},
            RunStatus.BLOCKED,
            actor=Actor.SYSTEM,
            actor_id="pass",
            action="run.blocked",
            mutate=blocked,
            reason=reason,
            detail={"missing": [c.name for c in checks if not c.ok]},
        )
        await self.notify(run)
        return run

    async def _fail(self, run_id: str, exc: BaseException) -> Run:
        current = await self.store.get(run_id)
        failure = diagnose(current.status.value, exc)
        return await self.fail(run_id, failure)

    async def fail(self, run_id: str, failure: Failure, *, expected: RunStatus | None = None) -> Run:
        """End a run that is in progress as `failed`, with its diagnosis (also used by recovery,
        which passes the state it saw as `expected`)."""
        current = await self.store.get(run_id)
        run = await self.store.transition(
            run_id,
            expected or current.status,
            RunStatus.FAILED,
            actor=Actor.SYSTEM,
            actor_id="pass",
            action="run.failed",
            mutate=lambda r: r.model_copy(update={"failure": failure}),
            reason=failure.message,
            detail={"step": failure.step, "diagnosis": failure.diagnosis},
        )
        await self.notify(run)
        return run

    # --- hand-over between workers ------------------------------------------------------------

    async def hand_back(self, run_id: str, reason: str, *, recovered: bool = False) -> Run:
        """A run whose planning stopped with its worker goes back to the queue, to be planned again
        from the start (planning writes nothing outside PASS). `recovered=True`: its worker died and
        crash recovery found it (counted towards `max_run_recoveries`); False: a worker stopping
        on SIGTERM gave it back."""
        run = await self.store.transition(
            run_id,
            {RunStatus.CHECKING, RunStatus.PLANNING, RunStatus.VERIFYING},
            RunStatus.QUEUED,
            actor=Actor.SYSTEM,
            actor_id="pass",
            action="run.recovered" if recovered else "run.handed_back",
            mutate=lambda r: r.model_copy(update={"recoveries": r.recoveries + int(recovered)}),
            reason=reason,
        )
        await self.notify(run)
        return run

    async def note_waiting(self, run_id: str, expected: RunStatus, waiting: str | None) -> Run:
        """Say on the run what it waits for (None: no longer waiting). Written only when it changes."""
        current = await self.store.get(run_id)
        if current.status is not expected or current.waiting == waiting:
            return current
        run = await self.store.transition(
            run_id,
            expected,
            None,
            actor=Actor.SYSTEM,
            actor_id="pass",
            action="run.waiting" if waiting else "run.resumed",
            mutate=lambda r: r.model_copy(update={"waiting": waiting}),
            reason=waiting or "",
        )
        await self.notify(run)
        return run

    async def _unbacked_approval(self, run: Run) -> str | None:
        """Why the audit log does not back this run's approval, or None when it does."""
        rule = self.policies.approvals.rule_for(run)
        events = await self.store.run_events(run.run_id)
        evidence = approval_evidence(run, events, rule, needed=approvals_needed(rule, run), seal_key=self.approval_key)
        return None if evidence.backed else evidence.why

    async def _refuse_unbacked(self, run: Run, why: str) -> Run:
        """State says approved, the audit log does not: publish nothing, and say so loudly."""
        log.error("stopline.unbacked_approval", run_id=run.run_id, why=why)
        failure = Failure(
            step="sync",
            message=(
                "PASS refused to publish this run: its approval is not in the audit log, so the run was "
                "changed outside PASS. Nothing was written to GitHub. Run `passbot audit verify`, look at "
                f"`passbot audit export --run {run.run_id}`, and start a new run from the PRD."
            ),
            diagnosis=why,
        )
        refused = await self.store.transition(
            run.run_id,
            run.status,
            RunStatus.FAILED,
            actor=Actor.SYSTEM,
            actor_id="pass",
            action="sync.refused",
            mutate=lambda r: r.model_copy(update={"failure": failure}),
            reason=why,
            detail={"flag": "approval_not_in_audit_log", "plan_hash": run.plan_hash},
        )
        await self.notify(refused)
        return refused

    async def _move(self, run_id: str, expected: RunStatus, target: RunStatus, action: str) -> Run:
        return await self.store.transition(run_id, expected, target, actor=Actor.SYSTEM, actor_id="pass", action=action)

    # --- sync ----------------------------------------------------------------------------------

    async def sync(
        self,
        run_id: str,
        progress: SyncProgress | None = None,
        *,
        resume: bool = False,
        deferral: int | None = None,
    ) -> Run:
        """Write the approved backlog. Exactly one caller gets past approved → syncing; with
        `resume=True` a run left in `syncing` by a dead worker is continued (the syncer is idempotent).

        `deferral`: how often this sync has already waited out GitHub (the worker passes it). While
        under `max_sync_deferrals`, a rate limit or an outage raises `SyncDeferred` (the run says
        what it waits for, still `syncing`) instead of failing the run. None: fail at once."""
        expected = {RunStatus.APPROVED, RunStatus.SYNCING} if resume else {RunStatus.APPROVED}
        run = await self.store.transition(
            run_id,
            expected,
            lambda r: None if r.status is RunStatus.SYNCING else RunStatus.SYNCING,
            actor=Actor.SYSTEM,
            actor_id="pass",
            action="sync.started" if not resume else "sync.resumed",
            mutate=lambda r: r.model_copy(update={"waiting": None}),
        )
        await self.notify(run)
        # Checked on the run as the transaction above read it: that is what gets published.
        unbacked = await self._unbacked_approval(run)
        if unbacked is not None:
            return await self._refuse_unbacked(run, unbacked)
        try:
            # Looked up again: another run of this PRD may have synced since this one was staged.
            earlier = await self.earlier_sync(run) or run.earlier_sync
            run = run.model_copy(update={"earlier_sync": earlier})
            if earlier is not None and run.on_earlier == "skip":
                result = skipped_sync(earlier)
            else:
                missing = [c for c in await self.syncer.check_requirements(run) if not c.ok]
                if missing:
                    return await self._block(run_id, missing, "A sync requirement is missing.")
                result = await self.syncer.sync(run, progress)
        except RequirementsMissing as blocked:
            return await self._block(run_id, blocked.checks, str(blocked))
        except (TrackerRateLimited, TrackerUnavailable) as outage:
            limit = self.policies.limits.max_sync_deferrals
            if deferral is None or deferral >= limit:
                started = run.entered_at(RunStatus.SYNCING)
                failure = outage_failure(
                    outage,
                    run_id=run_id,
                    deferrals=deferral or 0,
                    max_deferrals=limit,
                    sync_for_s=(utcnow() - started).total_seconds() if started else None,
                )
                log.warning("sync.gave_up", run_id=run_id, error=failure.message, diagnosis=failure.diagnosis)
                return await self.fail(run_id, failure)
            wait = outage_wait(outage, deferral, utcnow().timestamp())
            waiting = waiting_text(outage, wait, deferral, limit, utcnow())
            await self.note_waiting(run_id, RunStatus.SYNCING, waiting)
            raise SyncDeferred(run_id, wait, waiting) from outage
        except Exception as exc:  # noqa: BLE001 - any error becomes a visible, diagnosed failure
            return await self._fail(run_id, exc)
        run = await self.store.transition(
            run_id,
            RunStatus.SYNCING,
            RunStatus.SYNCED,
            actor=Actor.SYSTEM,
            actor_id="pass",
            action="sync.finished",
            mutate=lambda r: r.model_copy(update={"sync": result, "earlier_sync": earlier}),
            detail={
                "dry_run": result.dry_run,
                "issues": [i.number for i in result.issues],
                "target": result.target,
                "earlier_sync": earlier.run_id if earlier else None,
                "on_earlier": run.on_earlier if earlier else None,
            },
        )
        wrote = earlier is None or run.on_earlier == "update"
        if wrote and not result.dry_run and result.target and run.prd is not None:
            await self.store.remember_synced_prd(run.prd.sha256, result.target, run_id)
        await self.notify(run)
        return run
