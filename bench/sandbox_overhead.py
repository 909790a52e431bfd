"""Sandbox start-up overhead versus a bare subprocess running the same command, per isolation level.

Run: `PYTHONPATH=. python bench/sandbox_overhead.py [iterations]`. Prints the median wall time of
a bare `asyncio` subprocess and of `run_sandboxed` at each level that works here, the time the
sandbox adds and the ratio. Target (issue 3): under 50 ms added with bubblewrap.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bot.sandbox.isolation import IsolationLevel, level_works
from bot.sandbox.runner import run_sandboxed

COMMANDS = {"true": ["true"], "python -c pass": [sys.executable, "-c", "pass"]}


async def bare(argv: list[str], workspace: Path) -> float:
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=workspace, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    await proc.communicate()
    return time.perf_counter() - started


async def boxed(argv: list[str], workspace: Path, level: IsolationLevel) -> float:
    started = time.perf_counter()
    result = await run_sandboxed(argv, workspace=workspace, level=level, timeout_s=30)
    assert result.exit_code == 0, result.stderr
    return time.perf_counter() - started


async def main(iterations: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp)
        levels = [level for level in IsolationLevel if await level_works(level, workspace)]
        print(f"{iterations} runs each, median wall time; levels here: {', '.join(lv.label for lv in levels)}")
        print(f"{'command':<16} {'level':<8} {'bare ms':>8} {'boxed ms':>9} {'added ms':>9} {'ratio':>6}")
        for name, argv in COMMANDS.items():
            await bare(argv, workspace)  # warm the page cache
            base = statistics.median([await bare(argv, workspace) for _ in range(iterations)])
            for level in sorted(levels, reverse=True):
                await boxed(argv, workspace, level)
                cost = statistics.median([await boxed(argv, workspace, level) for _ in range(iterations)])
                print(
                    f"{name:<16} {level.label:<8} {base * 1000:8.1f} {cost * 1000:9.1f} "
                    f"{(cost - base) * 1000:9.1f} {cost / base:6.2f}"
                )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 30))
