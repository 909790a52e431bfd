"""The five metrics from a fixture of runs with explicit timestamps, against hand-computed values."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.metrics import failure_cause, metrics_summary, percentile
from bot.domain.models import Failure
from bot.domain.status import RunStatus
from tests.audit.runs_fixture import NOW, T0, make_run, metric_fixture


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([4, 1, 3, 2], 0.5) == 2.5
    assert percentile([0, 100, 500, 1500, 3000], 0.9) == pytest.approx(2400)
    assert percentile([7], 0.9) == 7
    assert percentile([], 0.5) is None


def test_overall_metrics_match_the_hand_computed_values() -> None:
    summary = metrics_summary(metric_fixture(), "7d", now=NOW)
    o = summary.overall
    assert [m.run_id for m in summary.runs] == ["r1", "r2", "r3", "r4", "r5"]  # "old" is outside 7d
    assert o.runs == 5
    assert o.by_status == {"blocked": 1, "failed": 2, "synced": 2}
    # lead time to staged: r1 100 s, r2 300 s
    assert (o.lead_time_staged.count, o.lead_time_staged.p50, o.lead_time_staged.p90) == (2, 200, pytest.approx(280))
    # lead time to synced: r1 760 s, r2 4300 s (its failed sync resumed)
    assert (o.lead_time_synced.p50, o.lead_time_synced.p90) == (2530, pytest.approx(3946))
    # verdicts: r1, r2 passed; r3 failed (verifying → blocked); r4, r5 never got one
    assert (o.verification_passed, o.verification_failed) == (2, 1)
    assert o.pass_rate == pytest.approx(2 / 3)
    # retry loops: r1 one planner repair, r2 one resumed sync, r3 two repairs
    assert (o.retry_loops, o.runs_with_retries) == (4, 3)
    # tokens per run: 1500, 3000, 500, 0, 100
    assert o.tokens.total == 5100 and o.tokens.p50 == 500 and o.tokens.p90 == pytest.approx(2400)
    assert (o.prompt_tokens, o.completion_tokens, o.cost_usd) == (3500, 1600, pytest.approx(0.035))
    # time to diagnosis: r2 posted 65 s after the failure; r4 (CLI) shown when it failed, 5 s;
    # r5 is a Slack run whose diagnosis was never posted
    assert (o.failures, o.undiagnosed) == (3, 1)
    assert (o.time_to_diagnosis.p50, o.time_to_diagnosis.p90) == (35, pytest.approx(59))


def test_per_run_values() -> None:
    by_id = {m.run_id: m for m in metrics_summary(metric_fixture(), "7d", now=NOW).runs}
    r2 = by_id["r2"]
    assert (r2.lead_time_staged_s, r2.lead_time_synced_s, r2.verification, r2.retry_loops) == (300, 4300, "passed", 1)
    assert (r2.tokens, r2.time_to_diagnosis_s) == (3000, 65)
    r3 = by_id["r3"]
    assert (r3.lead_time_staged_s, r3.verification, r3.retry_loops, r3.tokens) == (None, "failed", 2, 500)
    assert by_id["r5"].time_to_diagnosis_s is None and by_id["r5"].failed


def test_aggregates_per_day_channel_and_repo() -> None:
    summary = metrics_summary(metric_fixture(), "7d", now=NOW)
    assert [(g.key, g.runs) for g in summary.by_day] == [("2024-05-01", 2), ("2024-05-02", 3)]
    assert [(g.key, g.runs) for g in summary.by_channel] == [("C1", 2), ("C2", 2), ("none", 1)]
    assert [(g.key, g.runs) for g in summary.by_repo] == [("acme/a", 2), ("acme/b", 2), ("none", 1)]
    c1 = summary.by_channel[0]
    assert c1.lead_time_synced.p50 == 2530 and c1.pass_rate == 1.0 and c1.tokens.total == 4500
    b = summary.by_repo[1]
    assert b.pass_rate == 0.0 and b.retry_loops == 2 and b.undiagnosed == 1 and b.lead_time_staged.count == 0


def test_days_follow_the_time_zone_asked_for() -> None:
    summary = metrics_summary(metric_fixture(), "7d", now=NOW, tz=ZoneInfo("Pacific/Kiritimati"))  # UTC+14
    assert [(g.key, g.runs) for g in summary.by_day] == [("2024-05-02", 2), ("2024-05-03", 3)]


def test_the_window_decides_which_runs_count() -> None:
    assert metrics_summary(metric_fixture(), "30d", now=NOW).overall.runs == 6
    assert metrics_summary(metric_fixture(), timedelta(hours=12), now=NOW).overall.runs == 0
    assert metrics_summary(metric_fixture(), "1d", now=NOW).window == "1d"


def test_a_posted_diagnosis_counts_from_when_the_failure_was_seen() -> None:
    run = make_run(
        "x",
        T0,
        [(RunStatus.CHECKING, 1), (RunStatus.FAILED, 2)],
        channel="C9",
        failure=Failure(step="checking", message="KeyError: 'x'", at=T0, diagnosed_at=T0 + timedelta(minutes=3)),
    )
    summary = metrics_summary([run], "1d", now=T0 + timedelta(hours=1))
    assert summary.runs[0].time_to_diagnosis_s == 180


def test_failure_causes_name_the_step_and_kind_never_the_message() -> None:
    causes = {r.run_id: failure_cause(r) for r in metric_fixture()}
    assert causes == {
        "r1": None,
        "r2": None,  # synced in the end
        "r3": "verification: coverage",
        "r4": "planning: ValueError",
        "r5": "planning: TimeoutError",
        "old": None,
    }
