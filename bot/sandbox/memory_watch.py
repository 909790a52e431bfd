"""The memory bound of a whole check where the host gives no memory cgroup: a watchdog.

RLIMIT_AS binds each process alone, so N processes may hold N times the limit. Without a memory
cgroup the runner sums the resident memory of the box's process tree (from /proc, by parent pid:
the in-box reaper keeps orphans inside the tree) a few times a second and kills the box when the sum
passes the policy limit. It is a sampled bound, not a hard one: between two looks the tree can
overshoot by what it allocates in that time, and at most by the per-process limit times the
process cap.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _parents() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def tree_rss_bytes(root: int) -> int:
    """Resident memory of `root` and all its descendants."""
    tree = _parents()
    total = 0
    todo = [root]
    while todo:
        pid = todo.pop()
        with contextlib.suppress(OSError, IndexError, ValueError):  # it exited meanwhile
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
        todo.extend(tree.get(pid, []))
    return total


async def exceeded(root: int, limit_bytes: int, interval_s: float = 0.2) -> int:
    """Return (the sum seen) once the tree under `root` holds more than `limit_bytes`."""
    while True:
        used = await asyncio.to_thread(tree_rss_bytes, root)
        if used > limit_bytes:
            return used
        await asyncio.sleep(interval_s)
