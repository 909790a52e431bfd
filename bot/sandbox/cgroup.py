"""A cgroup per sandboxed command: the process cap that also binds root, and one memory bound for
the command's whole process tree.

RLIMIT_NPROC is ignored for uid 0 and RLIMIT_AS binds each process on its own (six pytest workers
at 1.5 GB each are 9 GB), so where the host lets us, each command gets its own group with
`pids.max` and a memory limit over all its processes. It also lets us kill every process of the
command, including ones that left the process group with setsid, and tell an out-of-memory kill
from any other SIGKILL. cgroup v1 (separate `pids` and `memory` hierarchies) and v2 (one unified
tree that delegates both controllers) are both handled.

A group is named after the process that made it (`passbot-<host>-<pid>-<start time>-<id>`), so the
next worker to start on that host can find and kill the groups of a worker that died without
cleaning up. The host part (a hash of the hostname) keeps a worker in another container that shares
the cgroup tree, whose pids mean something else, from judging groups that are not its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

_CGROUP_FS = Path("/sys/fs/cgroup")
_PREFIX = "passbot-"


@dataclass(frozen=True)
class _Controller:
    """Where groups for one controller go, and how its files are named."""

    root: Path
    version: int

    def parent(self, hierarchy: str) -> Path:
        """Our own cgroup when we may create children there (the limit then nests in the host's), else the root."""
        own = _own_cgroup(hierarchy, self.version)
        if own is not None:
            candidate = self.root / own.lstrip("/")
            if candidate != self.root and os.access(candidate, os.W_OK):
                return candidate
        return self.root


def _own_cgroup(hierarchy: str, version: int) -> str | None:
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, names, path = line.split(":", 2)
        if (version == 2 and names == "") or (version == 1 and hierarchy in names.split(",")):
            return path
    return None


def _v2_delegates(controller: str) -> bool:
    try:
        return controller in (_CGROUP_FS / "cgroup.subtree_control").read_text().split()
    except OSError:
        return False


def _controller(name: str) -> _Controller | None:
    v1 = _CGROUP_FS / name
    if (v1 / "cgroup.procs").exists() and os.access(v1, os.W_OK):
        return _Controller(v1, 1)
    if _v2_delegates(name) and os.access(_CGROUP_FS, os.W_OK):
        return _Controller(_CGROUP_FS, 2)
    return None


def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat: tells a live owner from a new process that reused its pid."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _owner_tag() -> str:
    return f"{_host_tag()}-{os.getpid()}-{_start_time(os.getpid()) or '0'}"


def _owner_alive(name: str) -> bool:
    parts = name.removeprefix(_PREFIX).split("-")
    if len(parts) < 4 or parts[0] != _host_tag() or not parts[1].isdigit():
        return True  # not ours to judge: another host's, or an older naming
    return _start_time(int(parts[1])) == parts[2]


def _write(path: Path, value: str) -> None:
    path.write_text(value)


class SandboxCgroup:
    """The groups (one per hierarchy, or one unified group) a command's processes live in."""

    def __init__(self, dirs: list[Path], memory_dir: Path | None, memory_version: int, max_pids: int) -> None:
        self.dirs = dirs
        self.memory_dir = memory_dir
        self.memory_version = memory_version
        self.max_pids = max_pids

    @classmethod
    def create(cls, max_pids: int, memory_bytes: int | None = None) -> SandboxCgroup | None:
        """A fresh group capped at `max_pids` (and `memory_bytes` when the memory controller is ours),
        or None when this host lets us cap neither."""
        name = f"{_PREFIX}{_owner_tag()}-{uuid.uuid4().hex[:12]}"
        pids = _controller("pids")
        memory = _controller("memory") if memory_bytes is not None else None
        made: list[Path] = []
        memory_dir: Path | None = None
        try:
            if pids is not None:
                path = pids.parent("pids") / name
                path.mkdir()
                made.append(path)
                _write(path / "pids.max", str(max_pids))
            if memory is not None and memory_bytes is not None:
                if pids is not None and memory.version == 2 and pids.version == 2:
                    path = made[0]  # one unified group holds both controllers
                else:
                    path = memory.parent("memory") / name
                    path.mkdir()
                    made.append(path)
                _limit_memory(path, memory.version, memory_bytes)
                memory_dir = path
        except OSError:
            for path in reversed(made):
                with contextlib.suppress(OSError):
                    path.rmdir()
            return None
        if not made:
            return None
        return cls(made, memory_dir, memory.version if memory else 0, max_pids)

    @property
    def procs_files(self) -> tuple[str, ...]:
        return tuple(str(path / "cgroup.procs") for path in self.dirs)

    @property
    def caps_pids(self) -> bool:
        return (self.dirs[0] / "pids.max").exists()

    def pids(self) -> list[int]:
        found: set[int] = set()
        for path in self.dirs:
            with contextlib.suppress(OSError, ValueError):
                found.update(int(line) for line in (path / "cgroup.procs").read_text().split())
        return sorted(found)

    def oom_killed(self) -> bool:
        """True when the kernel killed a member for going past the group's memory limit."""
        if self.memory_dir is None:
            return False
        events = "memory.events" if self.memory_version == 2 else "memory.oom_control"
        try:
            for line in (self.memory_dir / events).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value) > 0
            # Kernels before 4.13 have no v1 oom_kill counter: hitting the limit at all is the sign.
            return self.memory_version == 1 and int((self.memory_dir / "memory.failcnt").read_text()) > 0
        except (OSError, ValueError):
            return False

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
        """Kill what is left and delete the groups; False while killed members are not yet reaped."""
        self.kill_all()
        removed = True
        for path in self.dirs:
            try:
                path.rmdir()
            except FileNotFoundError:
                continue
            except OSError:
                removed = False
        return removed


def _limit_memory(path: Path, version: int, memory_bytes: int) -> None:
    if version == 2:
        _write(path / "memory.max", str(memory_bytes))
        with contextlib.suppress(OSError):
            _write(path / "memory.swap.max", "0")
        return
    _write(path / "memory.limit_in_bytes", str(memory_bytes))
    # With swap, the limit would only move pages to disk; memsw bounds memory + swap together.
    with contextlib.suppress(OSError):
        _write(path / "memory.memsw.limit_in_bytes", str(memory_bytes))


def reap_stale() -> list[str]:
    """Kill the processes of groups whose worker is gone, and remove those groups.

    A worker killed with SIGKILL cannot clean up; its bwrap boxes die with it (--die-with-parent),
    but a lower level's stray processes would run on. The next worker to start sandboxes calls this.
    """
    reaped: list[str] = []
    seen: set[Path] = set()
    for hierarchy in ("pids", "memory"):
        controller = _controller(hierarchy)
        if controller is None:
            continue
        for parent in {controller.root, controller.parent(hierarchy)}:
            if parent in seen:
                continue
            seen.add(parent)
            with contextlib.suppress(OSError):
                for path in parent.iterdir():
                    if path.is_dir() and path.name.startswith(_PREFIX) and not _owner_alive(path.name):
                        group = SandboxCgroup([path], None, 0, 0)
                        for _ in range(100):
                            if group.try_remove():
                                break
                            time.sleep(0.02)
                        reaped.append(path.name)
    return reaped


def join(procs_files: tuple[str, ...]) -> None:
    """Move the calling process into the groups. Runs in the child between fork and exec."""
    pid = str(os.getpid())
    for procs_file in procs_files:
        with open(procs_file, "w") as handle:
            handle.write(pid)
