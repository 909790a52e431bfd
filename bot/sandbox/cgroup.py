"""A pids cgroup per sandboxed run: the one process cap that also binds root.

RLIMIT_NPROC is ignored for uid 0, so on a root worker a fork bomb is only bounded by a pids
cgroup. When the controller is writable (cgroup v1 `pids` hierarchy, or a v2 tree that
delegates `pids`) each run gets its own group; it also lets us kill every process of the run,
including ones that left the process group with setsid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from pathlib import Path

_V1_ROOT = Path("/sys/fs/cgroup/pids")
_V2_ROOT = Path("/sys/fs/cgroup")


def _writable_root() -> Path | None:
    if (_V1_ROOT / "cgroup.procs").exists() and os.access(_V1_ROOT, os.W_OK):
        return _V1_ROOT
    controllers = _V2_ROOT / "cgroup.subtree_control"
    try:
        if "pids" in controllers.read_text().split() and os.access(_V2_ROOT, os.W_OK):
            return _V2_ROOT
    except OSError:
        return None
    return None


class PidsCgroup:
    def __init__(self, path: Path, max_pids: int) -> None:
        self.path = path
        self.max_pids = max_pids

    @classmethod
    def create(cls, max_pids: int) -> PidsCgroup | None:
        """A fresh group capped at `max_pids`, or None when this host does not let us make one."""
        root = _writable_root()
        if root is None:
            return None
        path = root / f"passbot-{uuid.uuid4().hex[:12]}"
        try:
            path.mkdir()
            (path / "pids.max").write_text(str(max_pids))
        except OSError:
            with contextlib.suppress(OSError):
                path.rmdir()
            return None
        return cls(path, max_pids)

    @property
    def procs_file(self) -> str:
        return str(self.path / "cgroup.procs")

    def pids(self) -> list[int]:
        try:
            return [int(line) for line in (self.path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def kill_all(self, rounds: int = 50) -> None:
        """SIGKILL every member until none is left (new forks are bounded by pids.max)."""
        for _ in range(rounds):
            members = self.pids()
            if not members:
                return
            for pid in members:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)

    def try_remove(self) -> bool:
        """Kill what is left and delete the group; False while killed members are not yet reaped."""
        self.kill_all()
        try:
            self.path.rmdir()
        except FileNotFoundError:
            return True
        except OSError:
            return False
        return True


def join(procs_file: str) -> None:
    """Move the calling process into a group. Runs in the child between fork and exec."""
    with open(procs_file, "w") as handle:
        handle.write(str(os.getpid()))
