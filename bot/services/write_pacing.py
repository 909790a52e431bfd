"""Staying under GitHub's content-creation limits, and waiting the way GitHub asks when over them.

GitHub's rules (docs: "Rate limits for the REST API", "Best practices"): make writes serially,
at least one second apart, at most 80 content-creating requests a minute and 500 an hour. When
limited (403 or 429): wait `Retry-After` seconds if given; else if `x-ratelimit-remaining` is 0
wait until `x-ratelimit-reset`; else wait at least a minute, backing off exponentially, and give
up after a bounded number of tries.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from bot.services.issue_tracker import TrackerError, TrackerRateLimited, TrackerUnavailable

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

GITHUB_WRITE_LIMITS: tuple[tuple[int, float], ...] = ((80, 60.0), (500, 3600.0))


class WritePacer:
    """Spaces writes: one at a time, `min_interval` apart, at most `cap` within any `window`.

    Gaps are measured from the end of the previous write, so the server never sees two writes
    closer than `min_interval`, however long a request spent in flight. Shared by every sync in
    the process, because GitHub's secondary limits are per token, not per run.
    """

    def __init__(
        self,
        min_interval: float = 1.0,
        limits: Sequence[tuple[int, float]] = GITHUB_WRITE_LIMITS,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._min_interval = min_interval
        self._limits = tuple(limits)
        self._clock = clock
        self._sleep = sleep
        self._finished: deque[float] = deque(maxlen=max((cap for cap, _ in self._limits), default=1))
        self._lock = asyncio.Lock()

    def _ready_at(self) -> float:
        if not self._finished:
            return self._clock()
        ready = self._finished[-1] + self._min_interval
        for cap, window in self._limits:
            if len(self._finished) >= cap:
                ready = max(ready, self._finished[-cap] + window)
        return ready

    async def write(self, call: Callable[[], Awaitable[T]]) -> T:
        async with self._lock:
            while (delay := self._ready_at() - self._clock()) > 0:
                await self._sleep(delay)
            try:
                return await call()
            finally:
                # A refused or failed write still reached GitHub and counts against the limits.
                self._finished.append(self._clock())


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    # A secondary limit with neither Retry-After nor remaining=0: GitHub says wait at least a minute.
    fallback_wait: float = 60.0
    # 5xx, timeouts: a short wait, doubled each time.
    unavailable_wait: float = 1.0
    # Added to x-ratelimit-reset to absorb clock skew between this host and GitHub.
    reset_margin: float = 1.0
    # A wait longer than this is not slept through: the error goes up so the job can be rescheduled.
    max_wait: float = 900.0


def retry_delay(error: TrackerError, attempt: int, policy: RetryPolicy, now_epoch: float) -> float | None:
    """Seconds to wait before trying again after `attempt` failed with `error`, or None to give up."""
    if attempt >= policy.max_attempts:
        return None
    backoff = 2.0 ** (attempt - 1)
    if isinstance(error, TrackerRateLimited):
        if error.retry_after is not None:
            delay = error.retry_after
        elif error.remaining == 0 and error.reset_at is not None:
            delay = max(0.0, error.reset_at - now_epoch) + policy.reset_margin
        else:
            delay = policy.fallback_wait * backoff
    elif isinstance(error, TrackerUnavailable):
        delay = policy.unavailable_wait * backoff
    else:
        return None
    return delay if delay <= policy.max_wait else None
