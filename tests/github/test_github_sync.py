"""GitHub sync after approval, against a GitHub fake on 127.0.0.1 through the real PyGithub client."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest
from fake_github_api import SECONDARY_LIMIT_MESSAGE, FakeGitHub, Fault, live_references
from github_sync_fakes import REPO, CrashingLedger, MemoryLedger, SyncerFactory, WorkerCrashed, make_run

from bot.domain.issue_body import TRACKING_KEY, parse_marker
from bot.domain.models import Requirement, Run, WorkItem
from bot.services import github_requirements as req
from bot.services.github_sync import SyncBlocked
from bot.services.write_pacing import WritePacer


def marked_keys(github: FakeGitHub, run_id: str = "run-01") -> list[str]:
    """The item key in each issue's marker, in creation order (a duplicate shows up twice)."""
    keys = []
    for issue in github.repos[REPO].issues:
        marker = parse_marker(issue["body"])
        assert marker is not None, issue["body"][:80]
        if marker.run_id == run_id:
            keys.append(marker.item_key)
    return keys


def by_key(github: FakeGitHub) -> dict[str, dict[str, Any]]:
    issues = {}
    for issue in github.repos[REPO].issues:
        marker = parse_marker(issue["body"])
        assert marker is not None
        issues[marker.item_key] = issue
    return issues


async def test_a_clean_sync_creates_each_item_once_in_dependency_order_with_traceability(
    github: FakeGitHub, make_syncer: SyncerFactory
) -> None:
    github.add_repo(REPO)
    run = make_run()
    seen: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        seen.append((done, total))

    result = await make_syncer(milestone="Widget exports v1").sync(run, progress)

    assert marked_keys(github) == ["T1", "T2", "T3", TRACKING_KEY]
    issues = by_key(github)
    t1, t2, t3 = (issues[k]["number"] for k in ("T1", "T2", "T3"))
    body = str(issues["T3"]["body"])
    assert f"Blocked by #{t2}" in body and f"Blocked by #{t1}" in body
    t1_body = str(issues["T1"]["body"])
    assert "**FR-001**: Users can sign in with their company SSO account." in t1_body
    assert "- [ ] A user with a valid SSO account gets a session" in t1_body
    assert "U0APPROVER" in t1_body and "@U0APPROVER" not in t1_body
    assert "https://acme.slack.com/archives/C0PLANS/p1700000000000100" in t1_body
    assert "run-01" in t1_body
    # The item's own criteria, not the requirement's, when it has some.
    assert "- [ ] Given a valid SSO account" not in t1_body
    assert "- [ ] Given" not in str(issues["T2"]["body"])
    assert {label["name"] for label in issues["T1"]["labels"]} == {"pass", "auth"}
    assert set(github.repos[REPO].labels) >= {"pass", "auth"}
    assert all(i["milestone"]["title"] == "Widget exports v1" for i in github.repos[REPO].issues)

    tracking = str(issues[TRACKING_KEY]["body"])
    for number in (t1, t2, t3):
        assert f"- [ ] #{number}" in tracking
    assert [(i.key, i.number) for i in result.issues] == [("T1", t1), ("T2", t2), ("T3", t3)]
    assert result.tracking is not None and result.tracking.number == issues[TRACKING_KEY]["number"]
    assert result.target == REPO and result.dry_run is False and result.refusals == []
    assert seen[0] == (0, 4) and seen[-1] == (4, 4)


async def test_syncing_the_same_run_again_creates_nothing(github: FakeGitHub, make_syncer: SyncerFactory) -> None:
    github.add_repo(REPO)
    run = make_run()
    first = await make_syncer().sync(run)
    writes = len(github.writes())

    again = await make_syncer().sync(run)

    assert len(github.writes()) == writes
    assert again.issues == first.issues and again.tracking == first.tracking


async def test_a_new_worker_with_an_empty_ledger_still_finds_the_issues_by_marker(
    github: FakeGitHub, make_syncer: SyncerFactory
) -> None:
    github.add_repo(REPO)
    run = make_run()
    await make_syncer().sync(run)

    await make_syncer(use_ledger=MemoryLedger()).sync(run)

    assert marked_keys(github) == ["T1", "T2", "T3", TRACKING_KEY]


@pytest.mark.parametrize("before_store", [False, True], ids=["crash-after-record", "crash-before-record"])
@pytest.mark.parametrize("k", [0, 2])
async def test_a_crash_after_k_creates_then_a_resume_gives_exactly_one_issue_per_item(
    github: FakeGitHub, make_syncer: SyncerFactory, ledger: MemoryLedger, k: int, before_store: bool
) -> None:
    github.add_repo(REPO)
    run = make_run()

    with pytest.raises(WorkerCrashed):
        await make_syncer(use_ledger=CrashingLedger(ledger, k, before_store=before_store)).sync(run)
    assert len(github.repos[REPO].issues) == k + 1  # the (k+1)th was created when the worker died

    result = await make_syncer().sync(run)

    assert sorted(marked_keys(github)) == sorted(["T1", "T2", "T3", TRACKING_KEY])
    assert set(ledger.rows["run-01"]) == {"T1", "T2", "T3", TRACKING_KEY}
    assert all(i.number is not None for i in result.issues)


async def test_a_create_that_times_out_after_github_stored_it_is_not_duplicated(
    github: FakeGitHub, make_syncer: SyncerFactory, ledger: MemoryLedger
) -> None:
    github.add_repo(REPO)
    # The client's timeout is 1 s; the server stores the first issue (T1) and answers after 3 s.
    github.faults.append(Fault("POST", "/issues", act_then_stall=3.0))

    result = await make_syncer().sync(make_run())

    assert marked_keys(github) == ["T1", "T2", "T3", TRACKING_KEY]
    assert len(github.issue_writes()) == 4
    assert ledger.rows["run-01"]["T1"][0] == result.issues[0].number


async def test_a_create_that_failed_before_github_stored_it_is_retried_once(
    github: FakeGitHub, make_syncer: SyncerFactory
) -> None:
    github.add_repo(REPO)
    github.faults.append(Fault("POST", "/issues", status=502, body={"message": "Server Error"}))

    await make_syncer().sync(make_run())

    assert marked_keys(github) == ["T1", "T2", "T3", TRACKING_KEY]
    assert [w.status for w in github.issue_writes()] == [502, 201, 201, 201, 201]


async def test_a_secondary_rate_limit_is_waited_out_as_retry_after_says(
    github: FakeGitHub, make_syncer: SyncerFactory
) -> None:
    github.add_repo(REPO)
    github.faults.append(
        Fault(
            "POST",
            "/issues",
            status=403,
            body={"message": SECONDARY_LIMIT_MESSAGE},
            headers={"Retry-After": "1"},
        )
    )

    await make_syncer().sync(make_run())

    writes = github.issue_writes()
    assert [w.status for w in writes] == [403, 201, 201, 201, 201]
    assert writes[1].at - writes[0].at >= 1.0  # on the server's clock
    assert marked_keys(github) == ["T1", "T2", "T3", TRACKING_KEY]


async def test_a_primary_rate_limit_is_waited_out_until_the_reset_time(
    github: FakeGitHub, make_syncer: SyncerFactory
) -> None:
    github.add_repo(REPO)
    reset = int(time.time()) + 2
    github.faults.append(
        Fault(
            "POST",
            "/issues",
            status=403,
            body={"message": "API rate limit exceeded for user ID 1."},
            headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
        )
    )

    await make_syncer().sync(make_run())

    writes = github.issue_writes()
    assert [w.status for w in writes][:2] == [403, 201]
    retried_at_wall = time.time() - (time.monotonic() - writes[1].at)
    assert retried_at_wall >= reset - 0.05  # the server's monotonic arrival, mapped to wall time
    assert marked_keys(github) == ["T1", "T2", "T3", TRACKING_KEY]


async def test_a_bad_token_is_a_requirement_with_the_fix_not_a_crash(
    github: FakeGitHub, make_syncer: SyncerFactory
) -> None:
    github.add_repo(REPO)
    syncer = make_syncer(token="revoked-token")

    checks = await syncer.check_requirements(make_run())

    failed = [c for c in checks if not c.ok]
    assert [c.name for c in failed] == [req.TOKEN]
    assert failed[0].fix is not None
    assert "401 Bad credentials" in failed[0].fix and "GITHUB_TOKEN" in failed[0].fix
    assert "revoked-token" not in failed[0].fix
    with pytest.raises(SyncBlocked) as blocked:
        await syncer.sync(make_run())
    assert blocked.value.checks == checks
    assert github.writes() == []


async def test_a_missing_repository_is_a_requirement_naming_it(github: FakeGitHub, make_syncer: SyncerFactory) -> None:
    checks = await make_syncer().check_requirements(make_run())

    failed = [c for c in checks if not c.ok]
    assert [c.name for c in failed] == [req.REPO]
    assert failed[0].fix is not None and REPO in failed[0].fix and "404" in failed[0].fix
    with pytest.raises(SyncBlocked):
        await make_syncer().sync(make_run())
    assert github.writes() == []


async def test_issues_turned_off_and_a_token_without_scope_are_each_named_with_where_to_fix(
    github: FakeGitHub, make_syncer: SyncerFactory
) -> None:
    github.add_repo(REPO, private=True, has_issues=False)
    github.add_token("narrow", scopes="read:org, gist")

    checks = await make_syncer(token="narrow").check_requirements(make_run())

    failed = {c.name: c.fix or "" for c in checks if not c.ok}
    assert set(failed) == {req.ISSUES, req.CREATE_ISSUES}
    assert "Features → Issues" in failed[req.ISSUES]
    assert "`repo`" in failed[req.CREATE_ISSUES] and "/settings/tokens" in failed[req.CREATE_ISSUES]


async def test_missing_labels_without_write_access_are_a_requirement(
    github: FakeGitHub, make_syncer: SyncerFactory
) -> None:
    github.add_repo(REPO, permissions={"admin": False, "maintain": False, "push": False, "triage": True, "pull": True})

    checks = await make_syncer().check_requirements(make_run())

    failed = {c.name: c.fix or "" for c in checks if not c.ok}
    assert set(failed) == {req.CREATE_LABELS}
    assert "auth, pass" in failed[req.CREATE_LABELS]


async def test_all_requirements_pass_for_a_ready_repository(github: FakeGitHub, make_syncer: SyncerFactory) -> None:
    github.add_repo(REPO)

    checks = await make_syncer().check_requirements(make_run())

    assert all(c.ok for c in checks), checks


async def test_a_write_refused_with_403_blocks_the_sync_with_the_permission_to_add(
    github: FakeGitHub, make_syncer: SyncerFactory
) -> None:
    github.add_repo(REPO)
    github.faults.append(
        Fault(
            "POST",
            "/issues",
            status=403,
            body={"message": "Resource not accessible by personal access token"},
        )
    )

    with pytest.raises(SyncBlocked) as blocked:
        await make_syncer().sync(make_run())

    (check,) = blocked.value.checks
    assert check.name == req.CREATE_ISSUES and "Issues: Read and write" in (check.fix or "")


CONFIDENTIAL_TEXT = "Acquisition of Globex closes in Q3; exports must include their SKUs."


def confidential_run() -> Run:
    requirements = [
        Requirement(id="FR-001", text="Users can export their widgets as CSV.", explicit_id=True),
        Requirement(id="FR-002", text=CONFIDENTIAL_TEXT, explicit_id=True, confidential=True, section="Confidential"),
    ]
    items = [
        WorkItem(key="T1", title="CSV export", body="Export widgets.", requirement_ids=["FR-001"]),
        WorkItem(key="T2", title="Globex SKUs", body="Map SKUs.", requirement_ids=["FR-002"], depends_on=["T1"]),
        WorkItem(key="T3", title="Export docs", body="Document it.", requirement_ids=["FR-001"], depends_on=["T2"]),
    ]
    return make_run(items, requirements=requirements)


async def test_a_public_repo_gets_no_confidential_item_and_the_run_says_which_and_why(
    github: FakeGitHub, make_syncer: SyncerFactory
) -> None:
    github.add_repo(REPO, private=False)

    result = await make_syncer().sync(confidential_run())

    assert marked_keys(github) == ["T1", "T3", TRACKING_KEY]
    assert not any("Globex" in str(i["body"]) + str(i["title"]) for i in github.repos[REPO].issues)
    (refusal,) = result.refusals
    assert refusal.key == "T2" and refusal.reason == "confidential" and "FR-002" in refusal.detail
    assert "Globex" not in refusal.detail
    assert "Withheld 1: T2" in result.note
    assert [i.number is None for i in result.issues] == [False, True, False]
    assert "Blocked by `T2` (withheld" in str(by_key(github)["T3"]["body"])


async def test_a_private_repo_gets_confidential_items_but_never_a_secret(
    github: FakeGitHub, make_syncer: SyncerFactory
) -> None:
    github.add_repo(REPO, private=True)
    run = confidential_run()
    leaked = "AKIA" + "Q3EGRTYU2XBZ4NMK"  # an AWS access key id shape
    assert run.plan is not None
    run.plan.items[0].body = f"Use key {leaked} for the bucket."

    result = await make_syncer().sync(run)

    assert marked_keys(github) == ["T2", "T3", TRACKING_KEY]
    assert not any(leaked in str(i["body"]) for i in github.repos[REPO].issues)
    assert [(r.key, r.reason) for r in result.refusals] == [("T1", "secret")]
    assert leaked not in result.note


async def test_a_hundred_items_are_written_within_the_write_rate_limit(
    github: FakeGitHub, make_syncer: SyncerFactory
) -> None:
    """Scaled down from GitHub's ≥1 s apart and ≤80 a minute: ≥5 ms apart and ≤20 in any 250 ms."""
    github.add_repo(REPO)
    interval, cap, window = 0.005, 20, 0.25
    items = [
        WorkItem(
            key=f"T{n}",
            title=f"Item {n}",
            body=f"Step {n}.",
            requirement_ids=["FR-001"],
            depends_on=[f"T{n - 1}"] if n > 1 else [],
        )
        for n in range(1, 101)
    ]
    run = make_run(items)

    result = await make_syncer(pacer=WritePacer(min_interval=interval, limits=[(cap, window)])).sync(run)

    assert sorted(marked_keys(github)) == sorted([f"T{n}" for n in range(1, 101)] + [TRACKING_KEY])
    assert all(i.number is not None for i in result.issues)
    arrivals = [w.at for w in github.writes()]
    assert len(arrivals) == 102  # the `pass` label, 100 items, the tracking issue
    assert min(b - a for a, b in itertools.pairwise(arrivals)) >= interval
    # No window of `window` seconds on the server's clock holds more than `cap` writes.
    assert all(arrivals[i + cap] - arrivals[i] >= window for i in range(len(arrivals) - cap))

    # A resume with nothing recorded reads the markers back across pages and writes nothing.
    await make_syncer(use_ledger=MemoryLedger()).sync(run)
    assert len(github.writes()) == 102


async def test_an_existing_milestone_is_reused(github: FakeGitHub, make_syncer: SyncerFactory) -> None:
    github.add_repo(REPO)
    await make_syncer(milestone="v1").sync(make_run(run_id="run-a"))

    await make_syncer(milestone="v1").sync(make_run(run_id="run-b"))

    assert len(github.repos[REPO].milestones) == 1
    assert {i["milestone"]["number"] for i in github.repos[REPO].issues} == {1}


async def test_two_syncs_of_one_run_at_once_create_each_issue_once(
    github: FakeGitHub, make_syncer: SyncerFactory
) -> None:
    github.add_repo(REPO)
    syncer = make_syncer()
    run = make_run()

    first, second = await asyncio.gather(syncer.sync(run), syncer.sync(run))

    assert marked_keys(github) == ["T1", "T2", "T3", TRACKING_KEY]
    assert first.issues == second.issues


async def test_prd_text_copied_into_issues_pings_no_user_team_or_other_issue(
    github: FakeGitHub, make_syncer: SyncerFactory
) -> None:
    github.add_repo(REPO)
    loud = "Ask @octocat and @acme/security-team, see #123 and acme/infra#45 (mail ops@acme.test)"
    items = [
        WorkItem(
            key="T1",
            title="SSO for @octocat",
            body=f"{loud}.\n\n```\n@decorator  # code stays as written\n```\n`left open @mallory",
            requirement_ids=["FR-001"],
            acceptance_criteria=[f"{loud} agree", "    @indented-in-a-list-item"],
            estimate="@octocat",
        )
    ]
    requirements = [Requirement(id="FR-001", text=f"Sign-in. {loud}", explicit_id=True)]
    run = make_run(items, requirements=requirements)
    assert run.prd is not None and run.plan is not None
    run.prd.title = "Exports #9 for @acme/leads"
    run.plan.summary = f"Summary: {loud}"
    run.requester = "@boss"

    await make_syncer().sync(run)

    issues = by_key(github)
    own_refs = {f"#{issue['number']}" for issue in issues.values()}
    for issue in issues.values():
        assert set(live_references(issue["body"])) <= own_refs, issue["body"]
    body = str(issues["T1"]["body"]).replace("\u200b", "")
    assert loud in body and "requested by @boss" in body  # still readable as written
    assert "```\n@decorator  # code stays as written\n```" in str(issues["T1"]["body"])
    tracking = str(issues[TRACKING_KEY]["body"])
    assert f"- [ ] #{issues['T1']['number']}" in tracking  # PASS's own references still link
    assert set(live_references(tracking)) == {f"#{issues['T1']['number']}"}
