"""Isolation levels, how each one wraps a command, and which one this machine offers.

bubblewrap gives the strongest box without root or a daemon: no network, a read-only root, a
private /tmp and /proc, no capabilities. `unshare -rnpf` still cuts the network and hides the
host's processes but leaves the filesystem writable. rlimits alone only bound resources.
The level reached is reported with every result, so nobody mistakes a weak box for a strong one.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from enum import IntEnum
from pathlib import Path

from bot.domain.models import RequirementCheck


class IsolationLevel(IntEnum):
    """Ordered by strength: `level >= IsolationLevel.UNSHARE` reads as "at least unshare"."""

    RLIMITS = 1
    UNSHARE = 2
    BWRAP = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> IsolationLevel:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(level.label for level in cls)
            raise ValueError(f"unknown isolation level '{text}' (expected one of: {names})") from None


# What each level really enforces, as reported to people. rlimits and the scrubbed environment
# hold at every level; the runner adds what it enforced on top (process cap, limits).
GUARANTEES: Mapping[IsolationLevel, tuple[str, ...]] = {
    IsolationLevel.BWRAP: (
        "no-network",
        "read-only-root",
        "private-tmp",
        "private-pids",
        "no-capabilities",
        "clean-env",
    ),
    IsolationLevel.UNSHARE: ("no-network", "private-pids", "clean-env"),
    IsolationLevel.RLIMITS: ("clean-env",),
}

INSTALL_BWRAP_FIX = (
    "Install bubblewrap on the worker host (Debian/Ubuntu: `apt-get install -y bubblewrap`; "
    "Fedora: `dnf install bubblewrap`) and make sure user namespaces are enabled "
    "(`sysctl kernel.unprivileged_userns_clone=1` where that setting exists)."
)

_SAFE_PROBE = ("true",)


def wrap_argv(
    level: IsolationLevel,
    argv: Sequence[str],
    *,
    workspace: Path,
    env: Mapping[str, str],
    ro_binds: Sequence[Path] = (),
) -> list[str]:
    """The argv that runs `argv` at `level`, with `workspace` as its writable working directory.

    `ro_binds` are host paths under /tmp that must stay visible (a venv or checkout living
    there), because bwrap's private /tmp hides everything the host had under it.
    """
    if level is IsolationLevel.RLIMITS:
        return list(argv)
    if level is IsolationLevel.UNSHARE:
        # -r maps us to root in a new user namespace, which lets -p/--mount-proc hide host pids
        # (and their /proc/<pid>/environ); --kill-child takes the whole tree down with unshare.
        return ["unshare", "-r", "-n", "-p", "-f", "--kill-child", "--mount-proc", "--", *argv]
    ws = str(workspace)
    wrapped = [
        "bwrap",
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--cap-drop", "ALL",
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        "--proc", "/proc",
        "--tmpfs", "/tmp",  # noqa: S108 - a private tmpfs for the box, the point of the flag
    ]  # fmt: skip
    for path in ro_binds:
        wrapped += ["--ro-bind", str(path), str(path)]
    # Bound after the tmpfs so a workspace under /tmp is the host's directory, not an empty one.
    wrapped += ["--bind", ws, ws, "--chdir", ws]
    for key, value in env.items():
        wrapped += ["--setenv", key, value]
    return [*wrapped, "--", *argv]


def tool_for(level: IsolationLevel) -> str | None:
    return {IsolationLevel.BWRAP: "bwrap", IsolationLevel.UNSHARE: "unshare"}.get(level)


async def level_works(level: IsolationLevel, workspace: Path) -> bool:
    """True when `level` can start a process here; tools present but forbidden say False."""
    tool = tool_for(level)
    if tool is not None and shutil.which(tool) is None:
        return False
    argv = wrap_argv(level, _SAFE_PROBE, workspace=workspace, env={"PATH": "/usr/bin:/bin"})
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            cwd=workspace,
            env={"PATH": "/usr/bin:/bin"},
        )
    except OSError:
        return False
    try:
        return await asyncio.wait_for(proc.wait(), timeout=10) == 0
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return False


_detected: dict[str, IsolationLevel] = {}


async def detect_isolation(*, refresh: bool = False) -> IsolationLevel:
    """The strongest level that actually starts a process on this machine (probed once)."""
    if not refresh and "best" in _detected:
        return _detected["best"]
    best = IsolationLevel.RLIMITS
    probe_dir = Path(tempfile.gettempdir())
    for level in (IsolationLevel.BWRAP, IsolationLevel.UNSHARE):
        if await level_works(level, probe_dir):
            best = level
            break
    _detected["best"] = best
    return best


def isolation_requirement(reached: IsolationLevel, minimum: IsolationLevel) -> RequirementCheck:
    """A requirements artifact: ok when `reached` meets the policy, else the exact fix."""
    name = f"sandbox isolation ≥ {minimum.label} (this host: {reached.label})"
    if reached >= minimum:
        return RequirementCheck(name=name, ok=True)
    if minimum is IsolationLevel.BWRAP:
        fix = f"The policy requires bubblewrap isolation. {INSTALL_BWRAP_FIX}"
    else:
        fix = (
            "The policy requires network isolation: enable user namespaces so `unshare -rn true` "
            f"works, or better: {INSTALL_BWRAP_FIX}"
        )
    return RequirementCheck(name=name, ok=False, fix=fix)
