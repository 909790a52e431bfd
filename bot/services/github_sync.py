"""Writing an approved run's backlog to GitHub issues: once, in dependency order, traceably.

Exactly once without an idempotency key: every body starts with a hidden marker
(run id, item key, plan hash). Before writing, the syncer merges two records of what already
exists, the ledger (numbers recorded the moment each create returns) and the markers found on
the repository's `pass`-labelled issues (which also cover a crash between a create and its
record). A create that fails without an answer (timeout, 5xx) is followed by a marker lookup
before any second attempt, because GitHub may have stored it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol, TypeVar

from bot.domain.issue_body import (
    TRACKING_KEY,
    IssueDraft,
    Provenance,
    dependency_order,
    parse_marker,
    render_item,
    render_tracking,
)
from bot.domain.models import Plan, Prd, RequirementCheck, Run, SyncedIssue, SyncRefusal, SyncResult
from bot.domain.secrets import redact
from bot.domain.sensitive import screen_plan, secret_refusal
from bot.errors import BadInput, RequirementsMissing
from bot.logging import get_logger
from bot.services import github_requirements as req
from bot.services.issue_tracker import (
    IssueTracker,
    RepoInfo,
    TrackedIssue,
    TrackerAuthError,
    TrackerError,
    TrackerForbidden,
    TrackerNotFound,
    TrackerRejected,
    TrackerUnavailable,
)
from bot.services.ports import SyncProgress
from bot.services.write_pacing import RetryPolicy, Sleep, WritePacer, retry_delay

T = TypeVar("T")
log = get_logger("pass.github_sync")

PASS_LABEL = "pass"  # noqa: S105 - a label name
_LABEL_COLOR = "5319e7"
_ITEM_LABEL_COLOR = "ededed"

# (channel, thread_ts) -> a link to the Slack thread, e.g. from chat.getPermalink.
ThreadLink = Callable[[str, str], Awaitable[str | None]]


class SyncLedger(Protocol):
    """Where created issue numbers are recorded as they happen (the lead's Redis hash per run)."""

    async def already_created(self, run_id: str) -> dict[str, tuple[int, str]]: ...

    async def record_created(self, run_id: str, key: str, number: int, url: str) -> None: ...


class SyncBlocked(RequirementsMissing):
    """GitHub is not ready for this sync; `checks` say what is missing and how to fix it."""

    def __init__(self, checks: list[RequirementCheck]) -> None:
        missing = [c.name for c in checks if not c.ok]
        super().__init__(checks, "GitHub sync blocked: " + "; ".join(missing))


@dataclass(frozen=True)
class _Inspection:
    checks: list[RequirementCheck]
    repo_name: str
    repo: RepoInfo | None
    labels: set[str]

    @property
    def ready(self) -> bool:
        return self.repo is not None and all(c.ok for c in self.checks)


def _backlog(run: Run) -> tuple[Plan, Prd]:
    if run.plan is None or run.prd is None:
        raise BadInput(f"run {run.run_id} has no plan to sync")
    return run.plan, run.prd


class GitHubSyncer:
    """The Syncer for GitHub. One per process: its pacer spaces the writes of every run."""

    def __init__(
        self,
        tracker: IssueTracker,
        ledger: SyncLedger,
        *,
        default_repo: str | None = None,
        thread_link: ThreadLink | None = None,
        milestone: str | None = None,
        pacer: WritePacer | None = None,
        retry_policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        wall_clock: Callable[[], float] = time.time,
        pass_label: str = PASS_LABEL,
    ) -> None:
        self._tracker = tracker
        self._ledger = ledger
        self._default_repo = default_repo
        self._thread_link = thread_link
        self._milestone = milestone
        self._pacer = pacer or WritePacer()
        self._policy = retry_policy or RetryPolicy()
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._pass_label = pass_label
        # Two syncs of one run in this process (a double click that slipped past the store's CAS)
        # take turns, so the second finds the first's issues instead of racing it.
        self._run_locks: dict[str, asyncio.Lock] = {}

    @property
    def target_kind(self) -> str:
        return "github"

    # ---- requirements -------------------------------------------------------------------------

    async def check_requirements(self, run: Run) -> list[RequirementCheck]:
        return (await self._inspect(run)).checks

    async def _inspect(self, run: Run) -> _Inspection:
        repo_name = run.repo or self._default_repo or ""
        target = req.target_check(repo_name)
        if not target.ok:
            return _Inspection([target], repo_name, None, set())
        api = self._tracker.api_url
        try:
            token = await self._read(self._tracker.whoami)
        except TrackerAuthError:
            return _Inspection([target, req.token_refused(api, repo_name)], repo_name, None, set())
        checks = [target, req.ok(req.TOKEN)]
        try:
            repo = await self._read(lambda: self._tracker.repo(repo_name))
        except TrackerNotFound:
            return _Inspection([*checks, req.repo_not_found(api, repo_name)], repo_name, None, set())
        except TrackerForbidden as exc:
            return _Inspection([*checks, req.repo_forbidden(api, repo_name, str(exc))], repo_name, None, set())
        checks += req.repo_checks(repo, token, api)
        labels = await self._read(lambda: self._tracker.label_names(repo_name)) if repo.has_issues else set()
        wanted = {
            self._pass_label,
            *(label for item in (run.plan.items if run.plan else []) for label in item.labels),
        }
        checks.append(req.labels_check(repo, wanted - labels))
        return _Inspection(checks, repo_name, repo, labels)

    # ---- sync ---------------------------------------------------------------------------------

    async def sync(self, run: Run, progress: SyncProgress | None = None) -> SyncResult:
        plan, prd = _backlog(run)
        lock = self._run_locks.setdefault(run.run_id, asyncio.Lock())
        async with lock:
            return await self._sync_locked(run, plan, prd, progress)

    async def _sync_locked(self, run: Run, plan: Plan, prd: Prd, progress: SyncProgress | None) -> SyncResult:
        inspection = await self._inspect(run)
        if not inspection.ready or inspection.repo is None:
            raise SyncBlocked(inspection.checks)
        try:
            return await self._sync(run, plan, prd, inspection, inspection.repo, progress)
        except TrackerAuthError as exc:
            raise SyncBlocked([req.token_refused(self._tracker.api_url, inspection.repo_name)]) from exc
        except TrackerForbidden as exc:
            check = req.forbidden_write(self._tracker.api_url, inspection.repo_name, str(exc))
            raise SyncBlocked([check]) from exc

    async def _sync(
        self,
        run: Run,
        plan: Plan,
        prd: Prd,
        inspection: _Inspection,
        repo: RepoInfo,
        progress: SyncProgress | None,
    ) -> SyncResult:
        repo_name = inspection.repo_name
        plan_hash = run.plan_hash or plan.content_hash()
        screening = screen_plan(plan, prd, public=not repo.private)
        withheld: dict[str, SyncRefusal] = {r.key: r for r in screening.refused}
        created = await self._known(run.run_id, repo_name, plan_hash, scan=self._pass_label in inspection.labels)
        order = dependency_order(screening.allowed)
        total = len(order) + 1
        pending = [item for item in order if item.key not in created]
        # The approver chose to update what an earlier run of this PRD created: those issues are
        # rewritten in place, and only items that run did not have are created.
        adopted = _adoptable(run, created)
        log.info(
            "github.sync.start",
            run_id=run.run_id,
            repo=repo_name,
            items=len(order),
            already=len(order) - len(pending),
            withheld=len(withheld),
        )

        milestone: int | None = None
        if pending or TRACKING_KEY not in created:
            await self._ensure_labels(
                repo_name,
                inspection.labels,
                {self._pass_label, *(label for i in pending for label in i.labels)},
            )
            milestone = await self._ensure_milestone(repo_name) if self._milestone else None
        thread_url = (
            await self._thread_link(run.channel, run.thread_ts)
            if self._thread_link and run.channel and run.thread_ts
            else None
        )
        provenance = Provenance.of(run, plan_hash, thread_url)

        done = total - len(pending) - (0 if TRACKING_KEY in created else 1)
        await _report(progress, done, total)
        created_now = 0
        for item in pending:
            numbers = {key: number for key, (number, _) in {**adopted, **created}.items()}
            draft = render_item(item, prd, provenance, numbers=numbers, withheld=withheld, pass_label=self._pass_label)
            # Last look at the exact text going out: the footer and PRD title were not screened.
            refusal = secret_refusal(item.key, f"{draft.title}\n{draft.body}")
            if refusal is not None:
                withheld[item.key] = refusal
                total -= 1
                await _report(progress, done, total)
                continue
            if item.key in adopted:
                issue = await self._update(run.run_id, repo_name, adopted[item.key][0], draft)
            else:
                issue = await self._create(run.run_id, repo_name, draft, plan_hash, milestone)
                created_now += 1
            created[item.key] = (issue.number, issue.url)
            done += 1
            await _report(progress, done, total)

        if TRACKING_KEY not in created:
            numbers = {key: number for key, (number, _) in created.items()}
            draft = render_tracking(
                plan, prd, provenance, numbers=numbers, withheld=withheld, pass_label=self._pass_label
            )
            draft = IssueDraft(draft.key, redact(draft.title), redact(draft.body), draft.labels)
            if TRACKING_KEY in adopted:
                issue = await self._update(run.run_id, repo_name, adopted[TRACKING_KEY][0], draft)
            else:
                issue = await self._create(run.run_id, repo_name, draft, plan_hash, milestone)
            created[TRACKING_KEY] = (issue.number, issue.url)
            done += 1
            await _report(progress, done, total)

        refusals = [withheld[item.key] for item in plan.items if item.key in withheld]
        issues = [
            SyncedIssue(key=item.key, number=created[item.key][0], url=created[item.key][1])
            if item.key in created
            else SyncedIssue(key=item.key)
            for item in plan.items
        ]
        tracking_number, tracking_url = created[TRACKING_KEY]
        result = SyncResult(
            target=repo_name,
            dry_run=False,
            issues=issues,
            note=_note(
                repo_name, issues, created_now, tracking_number, refusals, updated=len(adopted.keys() - {TRACKING_KEY})
            ),
            tracking=SyncedIssue(key=TRACKING_KEY, number=tracking_number, url=tracking_url),
            refusals=refusals,
        )
        log.info("github.sync.done", run_id=run.run_id, repo=repo_name, note=result.note)
        return result

    async def _known(self, run_id: str, repo_name: str, plan_hash: str, *, scan: bool) -> dict[str, tuple[int, str]]:
        """What exists already: the ledger, healed with markers found on the repository."""
        known = dict(await self._ledger.already_created(run_id))
        if not scan:  # no `pass` label yet, so no issue of ours can exist
            return known
        for key, issue in (await self._marked(repo_name, run_id, plan_hash)).items():
            if key not in known:
                await self._ledger.record_created(run_id, key, issue.number, issue.url)
                known[key] = (issue.number, issue.url)
        return known

    async def _marked(self, repo_name: str, run_id: str, plan_hash: str) -> dict[str, TrackedIssue]:
        issues = await self._read(lambda: self._tracker.issues_with_label(repo_name, self._pass_label))
        found: dict[str, TrackedIssue] = {}
        for issue in sorted(issues, key=lambda i: i.number):  # the oldest wins if a duplicate slipped in
            marker = parse_marker(issue.body)
            if marker and marker.run_id == run_id and marker.plan == plan_hash[:12]:
                found.setdefault(marker.item_key, issue)
        return found

    async def _create(
        self, run_id: str, repo_name: str, draft: IssueDraft, plan_hash: str, milestone: int | None
    ) -> TrackedIssue:
        """Create one issue and record it; after an unanswered attempt, look for it before retrying."""
        attempt = 1
        started = self._wall_clock()
        while True:
            try:
                issue = await self._pacer.write(
                    lambda: self._tracker.create_issue(
                        repo_name,
                        title=draft.title,
                        body=draft.body,
                        labels=list(draft.labels),
                        milestone=milestone,
                    )
                )
                break
            except TrackerError as exc:
                delay = retry_delay(exc, attempt, self._policy, self._wall_clock())
                if delay is None:
                    _gave_up(exc, attempt, self._wall_clock() - started)
                    raise
                log.warning(
                    "github.create.retry",
                    run_id=run_id,
                    key=draft.key,
                    attempt=attempt,
                    wait_s=delay,
                    error=str(exc),
                )
                await self._sleep(delay)
                if isinstance(exc, TrackerUnavailable):
                    existing = (await self._marked(repo_name, run_id, plan_hash)).get(draft.key)
                    if existing is not None:
                        log.info(
                            "github.create.found_after_failure",
                            run_id=run_id,
                            key=draft.key,
                            number=existing.number,
                        )
                        issue = existing
                        break
                attempt += 1
        await self._ledger.record_created(run_id, draft.key, issue.number, issue.url)
        return issue

    async def _update(self, run_id: str, repo_name: str, number: int, draft: IssueDraft) -> TrackedIssue:
        """Rewrite an earlier run's issue from this plan (safe to repeat, so retried like a read)."""
        issue = await self._write(
            partial(
                self._tracker.update_issue,
                repo_name,
                number,
                title=draft.title,
                body=draft.body,
                labels=list(draft.labels),
            )
        )
        await self._ledger.record_created(run_id, draft.key, issue.number, issue.url)
        return issue

    async def _ensure_labels(self, repo_name: str, existing: set[str], wanted: set[str]) -> None:
        for name in sorted(wanted - existing):
            color = _LABEL_COLOR if name == self._pass_label else _ITEM_LABEL_COLOR
            description = "Created by PASS from an approved plan" if name == self._pass_label else ""
            try:
                await self._write(partial(self._tracker.create_label, repo_name, name, color, description))
            except TrackerRejected as exc:
                if exc.status != 422:  # 422 already_exists: another run made it first
                    raise
            existing.add(name)

    async def _ensure_milestone(self, repo_name: str) -> int:
        assert self._milestone is not None
        title = self._milestone
        number = await self._read(lambda: self._tracker.milestone_number(repo_name, title))
        if number is not None:
            return number
        try:
            return await self._write(lambda: self._tracker.create_milestone(repo_name, title))
        except TrackerRejected:  # 422: created meanwhile (perhaps by our own unanswered attempt)
            number = await self._read(lambda: self._tracker.milestone_number(repo_name, title))
            if number is None:
                raise
            return number

    # ---- retries ------------------------------------------------------------------------------

    async def _read(self, call: Callable[[], Awaitable[T]]) -> T:
        return await self._retrying(call)

    async def _write(self, call: Callable[[], Awaitable[T]]) -> T:
        """An idempotent write (labels, milestone): safe to repeat, so retried like a read."""
        return await self._retrying(lambda: self._pacer.write(call))

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        attempt = 1
        started = self._wall_clock()
        while True:
            try:
                return await call()
            except TrackerError as exc:
                delay = retry_delay(exc, attempt, self._policy, self._wall_clock())
                if delay is None:
                    _gave_up(exc, attempt, self._wall_clock() - started)
                    raise
                log.warning("github.call.retry", attempt=attempt, wait_s=delay, error=str(exc))
                await self._sleep(delay)
                attempt += 1


def _gave_up(exc: TrackerError, attempts: int, tried_for_s: float) -> None:
    exc.attempts = attempts
    exc.tried_for_s = tried_for_s


async def _report(progress: SyncProgress | None, done: int, total: int) -> None:
    if progress is not None:
        await progress(done, total)


def _adoptable(run: Run, created: dict[str, tuple[int, str]]) -> dict[str, tuple[int, str]]:
    """Item key -> the earlier run's issue to rewrite, when the approver chose "update"."""
    earlier = run.earlier_sync
    if earlier is None or run.on_earlier != "update":
        return {}
    keys = {i.key for i in run.plan.items} if run.plan else set()
    issues = [*earlier.issues, *([earlier.tracking] if earlier.tracking else [])]
    return {
        i.key: (i.number, i.url or "")
        for i in issues
        if i.number is not None and (i.key in keys or i.key == TRACKING_KEY) and i.key not in created
    }


def _note(
    repo: str,
    issues: list[SyncedIssue],
    created_now: int,
    tracking: int,
    refusals: list[SyncRefusal],
    *,
    updated: int = 0,
) -> str:
    published = sum(1 for i in issues if i.number is not None)
    earlier = published - created_now - updated
    note = f"{published} issue(s) in {repo}, tracking issue #{tracking}"
    if updated > 0:
        note += f" ({updated} updated in place from the earlier sync of this PRD)"
    if earlier > 0:
        note += f" ({earlier} found from an earlier attempt)"
    if refusals:
        withheld = "; ".join(f"{r.key}: {r.detail}" for r in refusals)
        note += f". Withheld {len(refusals)}: {withheld}"
    return note + "."
