"""How long PASS waits between GitHub writes and after a rate limit, on an injected clock."""

from __future__ import annotations

import pytest

from bot.services.issue_tracker import TrackerRateLimited, TrackerRejected, TrackerUnavailable
from bot.services.write_pacing import RetryPolicy, WritePacer, retry_delay

POLICY = RetryPolicy(max_attempts=4, fallback_wait=60.0, unavailable_wait=1.0, reset_margin=1.0, max_wait=900.0)


def limited(
    retry_after: float | None = None, reset_at: float | None = None, remaining: int | None = None
) -> TrackerRateLimited:
    return TrackerRateLimited("limited", status=403, retry_after=retry_after, reset_at=reset_at, remaining=remaining)


@pytest.mark.parametrize(
    ("error", "attempt", "expected"),
    [
        (limited(retry_after=7), 1, 7.0),
        (limited(reset_at=1_000_030.0, remaining=0), 1, 31.0),  # until the reset, plus the margin
        (limited(reset_at=1_000_030.0, remaining=12), 1, 60.0),  # secondary without Retry-After: ≥ 1 minute
        (limited(), 3, 240.0),  # …doubling each time
        (limited(retry_after=3600), 1, None),  # longer than max_wait: give up, let the job reschedule
        (limited(retry_after=1), 4, None),  # attempts exhausted
        (TrackerUnavailable("502"), 2, 2.0),
        (TrackerRejected("422", status=422), 1, None),  # validation errors are not retried
    ],
)
def test_retry_delay_follows_githubs_rules(error: Exception, attempt: int, expected: float | None) -> None:
    assert retry_delay(error, attempt, POLICY, now_epoch=1_000_000.0) == expected  # type: ignore[arg-type]


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_the_pacer_spaces_writes_and_caps_each_window() -> None:
    fake = FakeTime()
    pacer = WritePacer(min_interval=1.0, limits=[(3, 10.0)], clock=fake.clock, sleep=fake.sleep)
    starts: list[float] = []

    async def write() -> None:
        starts.append(fake.now)
        fake.now += 0.25  # the request itself takes a while

    for _ in range(5):
        await pacer.write(write)

    assert starts == [100.0, 101.25, 102.5, 110.25, 111.5]
