"""Helpers for the sandbox tests: the levels this host offers, fixture paths, process probes."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox import cgroup
from bot.sandbox.command_policy import CommandPolicy, CommandsFile
from bot.sandbox.isolation import IsolationLevel, wrap_argv

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "sandbox"
AGENTS = FIXTURES / "agents"
HOSTILE = AGENTS / "hostile.py"
PYTHON = sys.executable


def _level_works(level: IsolationLevel) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        argv = wrap_argv(level, ["true"], workspace=Path(tmp), env={"PATH": "/usr/bin:/bin"})
        try:
            return subprocess.run(argv, capture_output=True, timeout=10, check=False).returncode == 0
        except OSError:
            return False


AVAILABLE = {level: _level_works(level) for level in IsolationLevel}


def process_cap_enforced() -> bool:
    """A fork bomb is only safe to run when a process cap really binds us."""
    if os.getuid() != 0:
        return True
    group = cgroup.SandboxCgroup.create(8)
    if group is None:
        return False
    capped = group.caps_pids
    group.try_remove()
    return capped


def at(*levels: IsolationLevel) -> pytest.MarkDecorator:
    """Parametrize over `levels`, skipping (with the reason) those this host cannot provide."""
    params = [
        pytest.param(
            level,
            id=level.label,
            marks=pytest.mark.skipif(not AVAILABLE[level], reason=f"{level.label} fails here"),
        )
        for level in levels
    ]
    return pytest.mark.parametrize("level", params)


ALL_LEVELS = tuple(IsolationLevel)
NETWORK_LEVELS = (IsolationLevel.BWRAP, IsolationLevel.UNSHARE)


def with_sandbox(policy: CommandPolicy, **changes: object) -> CommandPolicy:
    """`policy` with some of its `sandbox:` settings changed (a short per-test limit, a lower minimum)."""
    spec = policy.spec.model_dump()
    return CommandPolicy(CommandsFile.model_validate({**spec, "sandbox": {**spec["sandbox"], **changes}}))


class Recorder:
    """Stands in for the audit log: keeps every event the broker records."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    async def __call__(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def refusals(self) -> list[tuple[str | None, str]]:
        return [(e.get("type"), e["rule"]) for e in self.events if e.get("decision") == "refused"]


def alive_with(marker: str) -> list[int]:
    """Pids of live (non-zombie) processes whose command line contains `marker`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z":
            pids.append(int(entry.name))
    return pids
