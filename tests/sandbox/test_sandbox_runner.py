"""Hostile commands run in the sandbox are contained, and the result says how."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sandbox_helpers import (
    AGENTS,
    ALL_LEVELS,
    HOSTILE,
    NETWORK_LEVELS,
    PYTHON,
    alive_with,
    at,
    process_cap_enforced,
)

from bot.sandbox.isolation import IsolationLevel, detect_isolation, isolation_requirement
from bot.sandbox.runner import PROJECT_ROOT, Limits, run_sandboxed

SMALL = Limits(cpu_seconds=10, memory_mb=512, processes=32, output_bytes=100_000, output_kill_bytes=4_000_000)


async def hostile(what: str, arg: str, workspace: Path, level: IsolationLevel, **kwargs: object):
    return await run_sandboxed(
        [PYTHON, str(HOSTILE), what, arg],
        workspace=workspace,
        level=level,
        ro_binds=[HOSTILE.parent],
        **{"timeout_s": 20, **kwargs},
    )


@at(*NETWORK_LEVELS)
async def test_a_network_socket_cannot_reach_a_server_on_the_host(workspace: Path, level: IsolationLevel) -> None:
    connections = 0

    async def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writer.close()

    server = await asyncio.start_server(count, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        result = await hostile("network", str(port), workspace, level)
    assert result.stdout.startswith("blocked"), result.stdout + result.stderr
    assert connections == 0
    assert "no-network" in result.enforced


@at(IsolationLevel.RLIMITS)
async def test_rlimits_level_does_not_claim_network_or_filesystem_isolation(workspace: Path, level) -> None:
    result = await run_sandboxed(["true"], workspace=workspace, level=level)
    assert result.level is IsolationLevel.RLIMITS
    assert not {"no-network", "read-only-root", "private-pids"} & set(result.enforced)
    assert "clean-env" in result.enforced


@at(*ALL_LEVELS)
async def test_the_bots_tokens_never_reach_a_sandboxed_command(
    workspace: Path, level: IsolationLevel, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent_tokens = ["xoxb-111111111111-222222222222-parentparentparent", "ghp_" + "p" * 36]
    monkeypatch.setenv("SLACK_BOT_TOKEN", parent_tokens[0])
    monkeypatch.setenv("GITHUB_TOKEN", parent_tokens[1])
    result = await hostile("env", "", workspace, level, env={"GITHUB_TOKEN": "ghp_" + "e" * 36, "LANG": "C"})
    assert result.exit_code == 0, result.stderr
    # This process's tokens and the one passed in (at rlimits the agent may still see other, unrelated
    # processes on the machine: that level is not a boundary, which is why repo checks need unshare).
    assert not [t for t in [*parent_tokens, "ghp_" + "e" * 36] if t in result.stdout]
    assert result.env_dropped == ("GITHUB_TOKEN",)


@at(*NETWORK_LEVELS)
async def test_other_processes_environments_are_hidden(workspace: Path, level: IsolationLevel, decoy_bot: str) -> None:
    result = await hostile("env", "", workspace, level)
    assert decoy_bot not in result.stdout
    assert result.stdout.strip() == "{}"


@at(IsolationLevel.BWRAP)
async def test_writes_outside_the_workspace_do_not_land(workspace: Path, level: IsolationLevel, tmp_path: Path) -> None:
    host_tmp = tmp_path / "outside" / "pwned.txt"
    project = Path(__file__).resolve().parent / "pwned.txt"
    inside = workspace / "inside.txt"
    targets = ",".join(str(p) for p in (host_tmp, project, inside, Path("/etc/pwned.txt")))
    result = await hostile("write", targets, workspace, level)
    assert f"wrote {inside}" in result.stdout
    assert inside.read_text() == "pwned"
    assert not host_tmp.exists()
    assert not project.exists()
    assert not Path("/etc/pwned.txt").exists()
    # Read-only, or not there at all: the box sees only the system, the toolchain and the workspace.
    # A checkout under /tmp is the exception: there the write goes to the box's own private /tmp
    # (and vanishes with it, as `not project.exists()` shows).
    if not project.is_relative_to("/tmp"):
        assert f"refused {project} errno=" in result.stdout


@pytest.mark.skipif(not process_cap_enforced(), reason="no pids cgroup and running as root: no real process cap")
@at(*ALL_LEVELS)
async def test_a_fork_bomb_is_bounded_and_leaves_nothing_behind(workspace: Path, level: IsolationLevel) -> None:
    limits = Limits(cpu_seconds=10, memory_mb=512, processes=24)
    result = await hostile("forkbomb", "1", workspace, level, limits=limits, timeout_s=1.5)
    assert "fork refused after" in result.stdout, result.stdout + result.stderr
    children = int(result.stdout.split("fork refused after")[1].split()[0])
    assert children < 24
    assert result.timed_out and result.killed
    assert any(e.startswith(("pids-cgroup=", "nproc=")) for e in result.enforced)
    assert alive_with("hostile.py forkbomb") == []


@at(*ALL_LEVELS)
async def test_a_memory_hog_is_stopped_at_the_memory_limit(workspace: Path, level: IsolationLevel) -> None:
    result = await hostile("memory", "", workspace, level, limits=SMALL)
    if "memory=512MB per check (cgroup)" in result.enforced:
        # The whole process tree shares one bound; going past it is named, not a bare SIGKILL.
        assert result.kill_reason == "memory-limit", result.stdout + result.stderr
        assert result.describe() == "killed for going past the memory limit"
    else:
        assert "memory=512MB per process" in result.enforced
        assert result.exit_code == 3, result.stdout + result.stderr
        grabbed = int(result.stdout.split("after")[1].split()[0])
        assert grabbed <= 512


@at(*ALL_LEVELS)
async def test_an_infinite_loop_is_stopped_by_the_cpu_limit(workspace: Path, level: IsolationLevel) -> None:
    limits = Limits(cpu_seconds=1, memory_mb=512)
    result = await hostile("spin", "", workspace, level, limits=limits, timeout_s=15)
    assert not result.timed_out
    assert result.exit_code != 0
    if level is not IsolationLevel.UNSHARE:
        # util-linux unshare fails to re-raise its child's signal and exits 1 instead.
        assert result.signal in (signal.SIGXCPU, signal.SIGKILL)
        assert "CPU" in result.describe()


@at(*ALL_LEVELS)
async def test_an_infinite_loop_is_stopped_by_the_wall_clock_too(workspace: Path, level: IsolationLevel) -> None:
    result = await hostile("spin", "", workspace, level, limits=SMALL, timeout_s=1)
    assert result.timed_out and result.kill_reason == "timeout"
    assert result.describe() == "killed after its wall-clock timeout"


@at(*ALL_LEVELS)
async def test_printing_gigabytes_is_capped_and_killed(workspace: Path, level: IsolationLevel) -> None:
    result = await hostile("flood", "", workspace, level, limits=SMALL)
    assert result.kill_reason == "output-limit"
    assert len(result.stdout) == SMALL.output_bytes
    assert result.stdout_truncated


@at(IsolationLevel.RLIMITS)
async def test_a_timeout_also_kills_children_that_left_the_process_group(workspace: Path, level) -> None:
    result = await hostile("escape", "", workspace, level, timeout_s=1)
    assert result.timed_out
    assert alive_with("hostile.py escape") == []


async def test_the_best_level_here_is_detected() -> None:
    from sandbox_helpers import AVAILABLE

    best = max((level for level, works in AVAILABLE.items() if works), default=IsolationLevel.RLIMITS)
    assert await detect_isolation(refresh=True) is best


def test_below_the_policy_minimum_the_requirement_says_how_to_install_bubblewrap() -> None:
    check = isolation_requirement(IsolationLevel.RLIMITS, IsolationLevel.BWRAP)
    assert not check.ok
    assert "apt-get install -y bubblewrap" in (check.fix or "")
    assert isolation_requirement(IsolationLevel.BWRAP, IsolationLevel.UNSHARE).ok


def _wait_for(condition: Callable[[], bool], seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.skipif(not process_cap_enforced(), reason="no pids cgroup here: stale boxes cannot be found")
@at(IsolationLevel.BWRAP, IsolationLevel.RLIMITS)
def test_a_killed_workers_boxes_do_not_outlive_it(workspace: Path, level: IsolationLevel) -> None:
    """bwrap's boxes die with the worker; below it, the next worker's start-up kills what is left."""
    from bot.sandbox import cgroup

    marker = f"passbot-doomed-{uuid.uuid4().hex[:8]}"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT)}
    argv = [PYTHON, str(AGENTS / "doomed_worker.py"), str(workspace), level.label, marker[::-1]]
    worker = subprocess.Popen(argv, env=env)
    try:
        assert _wait_for(lambda: alive_with(marker) != []), "the daemon never started"
    finally:
        worker.kill()
        worker.wait()
    if level is IsolationLevel.BWRAP:
        assert _wait_for(lambda: alive_with(marker) == [])  # --die-with-parent took the box down
        return
    assert alive_with(marker) != []  # a setsid daemon escapes the dead worker's process group ...
    reaped = cgroup.reap_stale()  # ... until the next worker starts sandboxing
    assert reaped and _wait_for(lambda: alive_with(marker) == [])
