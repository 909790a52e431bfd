"""The workers' background scans (crash recovery, Slack card catch-up) outlive a scan that fails."""

from __future__ import annotations

import asyncio

from bot.services.recovery import scan_loop


async def test_a_scan_that_raises_is_logged_and_the_next_scan_still_runs() -> None:
    calls = 0
    stop = asyncio.Event()

    async def flaky_scan() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ValueError("a card that cannot be rendered")
        if calls == 3:
            stop.set()

    await asyncio.wait_for(scan_loop(flaky_scan, 0.01, stop=stop), timeout=10)

    assert calls == 3
