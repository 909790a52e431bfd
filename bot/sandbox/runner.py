"""Run one command in the sandbox: isolation wrapper, rlimits, process cap, clean environment,
wall-clock timeout over the whole process tree, and capped output.

`spawn_sandboxed` starts a long-lived sandboxed process (the agent talks over its stdio);
`run_sandboxed` runs a command to completion and returns a `SandboxResult`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.sandbox import cgroup, memory_watch
from bot.sandbox.errors import SandboxError
from bot.sandbox.isolation import GUARANTEES, IsolationLevel, detect_isolation, tool_for, wrap_argv

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1

# Variables a sandboxed command may receive. Anything else handed in is dropped and reported:
# tokens and keys never cross into the box, whatever the caller passes.
ENV_ALLOWLIST = frozenset(
    {
        "PATH",
        "HOME",
        "LANG",
        "LC_ALL",
        "TZ",
        "TERM",
        "NO_COLOR",
        "TMPDIR",
        "PYTHONPATH",
        "PYTHONHASHSEED",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONUNBUFFERED",
        "PYTHONSAFEPATH",
        "MYPY_CACHE_DIR",
        "RUFF_CACHE_DIR",
        "RUFF_NO_CACHE",
    }
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
REAPER = Path(__file__).resolve().parent / "reaper.py"
_KILL_GRACE_S = 2.0
_MB = 1024 * 1024
# With a memory cgroup bounding the whole tree, the per-process address-space limit only stops
# absurd mappings; the group is the real bound (and names an out-of-memory kill as such).
_AS_SLACK_WITH_CGROUP = 4


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 60
    memory_mb: int = 2048
    file_size_mb: int = 64
    open_files: int = 256
    processes: int = 128
    # Bytes kept per stream; a command writing more than `output_kill_bytes` in total is killed.
    output_bytes: int = 1_000_000
    output_kill_bytes: int = 64_000_000


@dataclass(frozen=True)
class SandboxResult:
    argv: tuple[str, ...]
    level: IsolationLevel
    exit_code: int | None
    signal: int | None
    stdout: str
    stderr: str
    stdout_truncated: bool
    stderr_truncated: bool
    timed_out: bool
    killed: bool
    kill_reason: str | None
    duration_s: float
    enforced: tuple[str, ...]
    env_dropped: tuple[str, ...] = ()
    # Processes the command left running when it exited ("pid N: cmdline"); the sandbox killed them.
    leftovers: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.killed

    def describe(self) -> str:
        """One line for a diagnosis: how the command ended."""
        if self.kill_reason == "timeout":
            return "killed after its wall-clock timeout"
        if self.kill_reason == "output-limit":
            return "killed for flooding its output"
        if self.kill_reason == "memory-limit":
            return "killed for going past the memory limit"
        if self.signal is not None:
            name = signal.Signals(self.signal).name if self.signal in signal.valid_signals() else str(self.signal)
            return f"killed by {name}{_SIGNAL_HINTS.get(self.signal, '')}"
        return f"exit code {self.exit_code}"


_SIGNAL_HINTS: dict[int, str] = {
    signal.SIGXCPU: " (CPU-time limit)",
    signal.SIGXFSZ: " (file-size limit)",
    signal.SIGKILL: " (killed: CPU hard limit or out of memory)",
    signal.SIGSEGV: " (crashed; often the address-space limit)",
}


def sandbox_env(env: Mapping[str, str] | None, *, workspace: Path) -> tuple[dict[str, str], tuple[str, ...]]:
    """The environment a sandboxed command gets: safe defaults plus allow-listed extras."""
    tool_dir = str(Path(sys.executable).parent)
    base = {
        "PATH": f"{tool_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(workspace),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    extra = dict(env or {})
    dropped = tuple(sorted(k for k in extra if k not in ENV_ALLOWLIST))
    base.update({k: v for k, v in extra.items() if k in ENV_ALLOWLIST})
    return base, dropped


def toolchain_binds(extra: Sequence[Path] = ()) -> list[Path]:
    """What a box sees read-only besides the system dirs: this Python (its venv and its install),
    and `extra` (PASS's code for its agent, a fixture). Never $HOME or PASS's data dir as a whole."""
    candidates = [
        Path(sys.prefix),
        Path(sys.base_prefix),
        Path(os.path.realpath(sys.executable)).parent.parent,
        *extra,
    ]
    binds: list[Path] = []
    for path in candidates:
        resolved = path.resolve()
        if resolved != Path("/") and resolved.exists() and resolved not in binds:
            binds.append(resolved)
    return binds


def _child_setup(limits: Limits, procs_files: tuple[str, ...], memory_capped: bool) -> Callable[[], None]:
    def setup() -> None:
        # The box dies with the worker: SIGKILL when the thread that started it goes away.
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if procs_files:
            cgroup.join(procs_files)
        mb = _MB
        # Soft CPU limit sends SIGXCPU, the hard one a second later SIGKILL.
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
        address_space = limits.memory_mb * mb * (_AS_SLACK_WITH_CGROUP if memory_capped else 1)
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size_mb * mb, limits.file_size_mb * mb))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if os.getuid() != 0:
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))

    return setup


@dataclass
class SandboxProcess:
    """A running sandboxed process; `close()` always runs (it kills what is left)."""

    process: asyncio.subprocess.Process
    argv: tuple[str, ...]
    level: IsolationLevel
    enforced: tuple[str, ...]
    env_dropped: tuple[str, ...]
    started: float
    group: cgroup.SandboxCgroup | None = None
    kill_reason: str | None = field(default=None)
    # Read end of the reaper's report pipe (None when the command runs without the reaper).
    report_fd: int | None = None

    def leftovers(self) -> tuple[str, ...]:
        """What the reaper reported, once the box has exited."""
        if self.report_fd is None:
            return ()
        chunks = []
        os.set_blocking(self.report_fd, False)
        with contextlib.suppress(BlockingIOError, OSError):
            while chunk := os.read(self.report_fd, 65536):
                chunks.append(chunk)
        lines = b"".join(chunks).decode("utf-8", "replace").splitlines()
        return tuple(line for line in lines if line.strip())

    def kill(self, reason: str) -> None:
        """Kill the whole tree: its process group and, where we have one, every cgroup member."""
        if self.kill_reason is None:
            self.kill_reason = reason
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.group is not None:
            self.group.kill_all()

    async def close(self) -> None:
        if self.report_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.report_fd)
            self.report_fd = None
        if self.process.returncode is None:
            self.kill("closed")
            await self.process.wait()
        if self.group is not None:
            # Leftover members (orphans at the rlimits level) are killed and reaped by init.
            for _ in range(100):
                if self.group.try_remove():
                    break
                await asyncio.sleep(0.02)
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)


async def spawn_sandboxed(
    argv: Sequence[str],
    *,
    workspace: Path,
    level: IsolationLevel | None = None,
    limits: Limits = Limits(),
    env: Mapping[str, str] | None = None,
    ro_binds: Sequence[Path] = (),
    hidden: Sequence[Path] = (),
    stdin_pipe: bool = False,
    stream_limit: int = 2**16,
    reap: bool = False,
) -> SandboxProcess:
    """Start `argv` in the box. With `reap`, it runs under the in-box reaper, which names and kills
    whatever the command leaves running when it exits (`SandboxProcess.leftovers`)."""
    if not argv:
        raise SandboxError("empty command")
    workspace = workspace.resolve()  # noqa: ASYNC240 - no I/O beyond a cached stat
    if not workspace.is_dir():
        raise SandboxError(f"workspace {workspace} is not a directory")
    await _reap_stale_once()
    reached = level if level is not None else await detect_isolation()
    child_env, dropped = sandbox_env(env, workspace=workspace)
    binds = toolchain_binds(ro_binds)
    report_r: int | None = None
    report_w: int | None = None
    command = list(argv)
    if reap:
        report_r, report_w = os.pipe()
        command = [sys.executable, "-I", "-S", str(REAPER), str(report_w), "--", *argv]
        binds.append(REAPER)
    full = wrap_argv(reached, command, workspace=workspace, env=child_env, ro_binds=binds, hidden=hidden)
    group = cgroup.SandboxCgroup.create(limits.processes, limits.memory_mb * _MB)
    memory_capped = group is not None and group.memory_dir is not None
    enforced = [
        *GUARANTEES[reached],
        f"cpu={limits.cpu_seconds}s",
        f"memory={limits.memory_mb}MB" + (" per check (cgroup)" if memory_capped else " per process"),
        f"file-size={limits.file_size_mb}MB",
        f"open-files={limits.open_files}",
        "dies-with-worker",
    ]
    if reap:
        enforced.append("no-leftover-processes")
    if group is not None and group.caps_pids:
        enforced.append(f"pids-cgroup={limits.processes}")
    elif os.getuid() != 0:
        enforced.append(f"nproc={limits.processes}")
    else:
        enforced.append("no-process-cap")
    try:
        process = await asyncio.create_subprocess_exec(
            *full,
            stdin=asyncio.subprocess.PIPE if stdin_pipe else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=workspace,
            env=child_env,
            start_new_session=True,
            preexec_fn=_child_setup(limits, group.procs_files if group else (), memory_capped),
            limit=stream_limit,
            pass_fds=(report_w,) if report_w is not None else (),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        for fd in (report_r, report_w):
            if fd is not None:
                os.close(fd)
        if group is not None:
            group.try_remove()
        tool = tool_for(reached) or argv[0]
        raise SandboxError(
            f"could not start {tool}: {exc.__class__.__name__}",
            diagnosis=f"starting `{argv[0]}` at isolation level {reached.label} failed: {exc}",
        ) from exc
    if report_w is not None:
        os.close(report_w)  # only the reaper holds the write end: EOF once it is gone
    return SandboxProcess(
        process=process,
        argv=tuple(argv),
        level=reached,
        enforced=tuple(enforced),
        env_dropped=dropped,
        started=time.monotonic(),
        group=group,
        report_fd=report_r,
    )


_stale_reaped: list[str] = []


async def _reap_stale_once() -> None:
    """On a worker's first sandboxed command, kill what a dead worker's boxes left behind."""
    if not _stale_reaped:
        _stale_reaped.append("done")
        await asyncio.to_thread(cgroup.reap_stale)


class _OutputBudget:
    def __init__(self, kill_bytes: int) -> None:
        self.kill_bytes = kill_bytes
        self.total = 0
        self.exceeded = asyncio.Event()

    def add(self, n: int) -> None:
        self.total += n
        if self.total > self.kill_bytes:
            self.exceeded.set()


async def _drain(stream: asyncio.StreamReader | None, cap: int, budget: _OutputBudget) -> tuple[bytes, bool]:
    kept = bytearray()
    truncated = False
    if stream is None:
        return b"", False
    while chunk := await stream.read(65536):
        budget.add(len(chunk))
        room = cap - len(kept)
        if room > 0:
            kept += chunk[:room]
        if len(chunk) > max(room, 0):
            truncated = True
    return bytes(kept), truncated


async def _feed(proc: asyncio.subprocess.Process, data: bytes) -> None:
    if proc.stdin is None:
        return
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        proc.stdin.write(data)
        await proc.stdin.drain()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        proc.stdin.close()


def _signal_of(level: IsolationLevel, returncode: int) -> int | None:
    if returncode < 0:
        return -returncode
    # bwrap and unshare report a child killed by signal N as exit code 128+N.
    if level is not IsolationLevel.RLIMITS and 128 < returncode < 160:
        return returncode - 128
    return None


async def run_sandboxed(
    argv: Sequence[str],
    *,
    workspace: Path,
    level: IsolationLevel | None = None,
    timeout_s: float = 60.0,
    limits: Limits = Limits(),
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    ro_binds: Sequence[Path] = (),
    hidden: Sequence[Path] = (),
    reap: bool = False,
) -> SandboxResult:
    """Run `argv` (never through a shell) in the sandbox and wait for it, within `timeout_s`."""
    box = await spawn_sandboxed(
        argv,
        workspace=workspace,
        level=level,
        limits=limits,
        env=env,
        ro_binds=ro_binds,
        hidden=hidden,
        stdin_pipe=stdin is not None,
        reap=reap,
    )
    proc = box.process
    budget = _OutputBudget(limits.output_kill_bytes)
    out_task = asyncio.create_task(_drain(proc.stdout, limits.output_bytes, budget))
    err_task = asyncio.create_task(_drain(proc.stderr, limits.output_bytes, budget))
    feed_task = asyncio.create_task(_feed(proc, stdin)) if stdin is not None else None
    finished: asyncio.Future[Any] = asyncio.gather(proc.wait(), out_task, err_task)
    flood: asyncio.Future[Any] = asyncio.ensure_future(budget.exceeded.wait())
    watched = {finished, flood}
    enforced = list(box.enforced)
    over_memory: asyncio.Future[Any] | None = None
    if box.group is None or box.group.memory_dir is None:
        # No memory cgroup here: the whole tree's memory is still bounded, by sampling it.
        over_memory = asyncio.ensure_future(memory_watch.exceeded(proc.pid, limits.memory_mb * _MB))
        watched.add(over_memory)
        enforced.append(f"memory-watchdog={limits.memory_mb}MB per check")
    try:
        done, _ = await asyncio.wait(watched, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        if finished not in done:
            reason = "output-limit" if flood in done else "memory-limit" if over_memory in done else "timeout"
            box.kill(reason)
            # An escaped grandchild could hold the pipes open; stop reading after a grace period.
            done, _ = await asyncio.wait({finished}, timeout=_KILL_GRACE_S)
            if finished not in done:
                out_task.cancel()
                err_task.cancel()
            await proc.wait()
    finally:
        flood.cancel()
        if over_memory is not None:
            over_memory.cancel()
        if feed_task is not None:
            feed_task.cancel()
        leftovers = box.leftovers() if proc.returncode is not None else ()
        # Any member killed for memory ends the check so, even when the command itself exits 0.
        if box.kill_reason is None and box.group is not None and box.group.oom_killed():
            box.kill_reason = "memory-limit"
        await box.close()
        with contextlib.suppress(asyncio.CancelledError):
            await finished
    stdout, out_cut = out_task.result() if not out_task.cancelled() else (b"", True)
    stderr, err_cut = err_task.result() if not err_task.cancelled() else (b"", True)
    returncode = proc.returncode if proc.returncode is not None else -signal.SIGKILL
    sig = _signal_of(box.level, returncode)
    return SandboxResult(
        argv=box.argv,
        level=box.level,
        exit_code=returncode,
        signal=sig,
        stdout=stdout.decode("utf-8", "replace"),
        stderr=stderr.decode("utf-8", "replace"),
        stdout_truncated=out_cut,
        stderr_truncated=err_cut,
        timed_out=box.kill_reason == "timeout",
        killed=box.kill_reason is not None,
        kill_reason=box.kill_reason,
        duration_s=round(time.monotonic() - box.started, 4),
        enforced=(*enforced, f"timeout={timeout_s:g}s", f"output-cap={limits.output_bytes}B"),
        env_dropped=box.env_dropped,
        leftovers=leftovers,
    )
