"""policies/digests.yml: the shipped file loads; mistakes stop start-up naming the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.digest_policy import DigestPolicy, load_digest_policy
from bot.errors import ConfigError
from tests.helpers import REPO_ROOT


def test_the_shipped_policy_loads_and_documents_itself() -> None:
    policy = load_digest_policy(REPO_ROOT / "policies")
    assert policy.schedules == [] and policy.nudge_after_hours == 24 and policy.daily_token_budget > 0
    text = (REPO_ROOT / "policies" / "digests.yml").read_text()
    assert "#  - channel:" in text and "timezone" in text


def test_a_missing_file_means_no_scheduled_digests(tmp_path: Path) -> None:
    assert load_digest_policy(tmp_path) == DigestPolicy()


def test_schedules_are_read_with_their_zone(tmp_path: Path) -> None:
    (tmp_path / "digests.yml").write_text(
        "schedules:\n  - channel: C1\n    cron: '0 9 * * 1-5'\n    timezone: Asia/Kolkata\n    runs: channel\n"
    )
    [schedule] = load_digest_policy(tmp_path).schedules
    assert (schedule.channel, schedule.zone.key, schedule.runs) == ("C1", "Asia/Kolkata", "channel")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("nudge_after_hours: 24\nschedules:\n  - channel: C1\n    cron: '0 25 * * *'\n", "line 2: schedules.0.cron"),
        ("schedules:\n  - channel: C1\n    cron: '0 9 * * *'\n    timezone: Mars/Olympus\n", "unknown time zone"),
        ("schedules:\n  - channel: C1\n    cron: '@hourly'\n", "five-field cron"),
        ("daily_token_budget: -5\n", "line 1: daily_token_budget"),
        ("schedules: [\n", "invalid YAML"),
    ],
)
def test_a_bad_policy_names_the_file_and_the_reason(tmp_path: Path, body: str, message: str) -> None:
    (tmp_path / "digests.yml").write_text(body)
    with pytest.raises(ConfigError) as caught:
        load_digest_policy(tmp_path)
    assert str(tmp_path / "digests.yml") in str(caught.value) and message in str(caught.value)
