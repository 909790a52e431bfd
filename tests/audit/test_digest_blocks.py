"""The digest and stats Block Kit stay inside Slack's limits with real-sized (and hostile) inputs."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from bot.domain.digest import assemble_digest
from bot.domain.metrics import metrics_summary
from bot.domain.models import Failure, RequirementCheck, Run, Usage
from bot.domain.status import RunStatus
from bot.policies import ApprovalPolicy, ApprovalRule
from bot.slack.digest_blocks import digest_blocks, digest_text
from bot.slack.stats_blocks import stats_blocks
from tests.audit.runs_fixture import HAPPY, NOW, T0, make_run, metric_fixture
from tests.audit.slack_limits import problems

S = RunStatus
HOSTILE_TITLE = "<!channel> *Ship it* <https://evil.example|click> & " + "very long title " * 60


def _large_fixture() -> list[Run]:
    """400 runs over a week: 150 waiting (long hostile titles), 150 synced, 100 failed or blocked
    with 40 different causes, across 30 channels and 25 repos."""
    runs: list[Run] = []
    for i in range(400):
        created = NOW - timedelta(days=6) + timedelta(minutes=20 * i)
        channel, repo = f"C{i % 30:03d}", f"acme/service-{i % 25}"
        usage = Usage(prompt_tokens=5_000 + i, completion_tokens=2_000, cost_usd=0.03)
        if i < 150:
            runs.append(make_run(f"w{i}", created, [*HAPPY], channel=channel, repo=repo, title=HOSTILE_TITLE))
        elif i < 300:
            steps = [*HAPPY, (S.APPROVED, 900), (S.SYNCING, 910), (S.SYNCED, 1000 + i)]
            runs.append(make_run(f"s{i}", created, steps, channel=channel, repo=repo, usage=usage, retries=i % 3))
        elif i < 350:
            failure = Failure(step="planning", message=f"Error{i % 40}Kind: boom", at=created + timedelta(seconds=15))
            steps = [(S.CHECKING, 5), (S.PLANNING, 10), (S.FAILED, 20)]
            runs.append(make_run(f"f{i}", created, steps, channel=channel, repo=repo, failure=failure, usage=usage))
        else:
            missing = [RequirementCheck(name=f"token_{i % 40}", ok=False, fix="set it")]
            steps = [(S.CHECKING, 5), (S.BLOCKED, 6)]
            runs.append(make_run(f"b{i}", created, steps, channel=channel, repo=repo, requirements=missing))
    return runs


def _approvers() -> ApprovalPolicy:
    many = ApprovalRule(allow_users=[f"U{n:05d}" for n in range(40)], allow_groups=[f"S{n:03d}" for n in range(10)])
    return ApprovalPolicy(default=many)


def test_a_large_late_digest_passes_slacks_limits() -> None:
    digest = assemble_digest(
        _large_fixture(),
        channel="C_DIGEST",
        since=NOW - timedelta(days=7),
        until=NOW,
        zone=ZoneInfo("America/New_York"),
        approvals=_approvers(),
        nudge_after=timedelta(hours=24),
        daily_token_budget=1_000_000,
        top_causes=20,
        slot=NOW - timedelta(hours=5),
        late_by=timedelta(hours=5),
    )
    blocks = digest_blocks(digest)
    text = digest_text(digest)
    assert problems(blocks, text) == []
    rendered = str(blocks)
    assert len(digest.waiting) == 150 and "more" in rendered  # the rest summarised, not dropped silently
    assert "<!channel>" not in rendered and "&lt;!channel&gt;" in rendered  # untrusted titles stay text
    assert "<https://evil.example" not in rendered
    assert len(digest.failure_causes) == 20


def test_stats_blocks_pass_slacks_limits_for_a_month_of_runs() -> None:
    summary = metrics_summary(_large_fixture(), "30d", now=NOW)
    blocks = stats_blocks(summary)
    assert problems(blocks, "PASS stats") == []
    assert len(summary.by_channel) == 30 and len(summary.by_repo) == 25


def test_a_small_digest_says_what_happened() -> None:
    digest = assemble_digest(
        metric_fixture(),
        channel="C1",
        since=T0 - timedelta(hours=1),
        until=NOW,
        zone=ZoneInfo("UTC"),
        approvals=ApprovalPolicy(),
        nudge_after=timedelta(hours=24),
        daily_token_budget=1_000,
    )
    assert digest.outcomes == {"synced": 2, "blocked": 1, "failed": 2}
    assert digest.pass_rate is not None and round(digest.pass_rate, 3) == 0.667
    assert (digest.lead_time_synced.p50, digest.tokens) == (2530, 5100)
    assert digest.failure_causes == [
        ("planning: TimeoutError", 1),
        ("planning: ValueError", 1),
        ("verification: coverage", 1),
    ]
    rendered = str(digest_blocks(digest))
    assert "p50 42m" in rendered and "67% (2 of 3)" in rendered
    assert problems(digest_blocks(digest), digest_text(digest)) == []


def test_token_spend_today_is_shown_against_the_budget() -> None:
    today = make_run("t1", NOW - timedelta(hours=1), [*HAPPY], usage=Usage(prompt_tokens=1_500, completion_tokens=0))
    yesterday = make_run("t2", NOW - timedelta(hours=30), [*HAPPY], usage=Usage(prompt_tokens=9_000))
    digest = assemble_digest(
        [today, yesterday],
        channel="C1",
        since=NOW - timedelta(days=2),
        until=NOW,
        zone=ZoneInfo("UTC"),
        approvals=ApprovalPolicy(),
        nudge_after=timedelta(hours=24),
        daily_token_budget=1_000,
    )
    assert (digest.tokens_today, digest.tokens) == (1_500, 10_500)
    assert "1,500 of 1,000 (150%) ⚠️ over budget" in str(digest_blocks(digest))
