"""Fixtures for the sandbox tests: a workspace, the shipped policy, an event recorder, a decoy bot."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_helpers import PYTHON, Recorder

from bot.sandbox.command_policy import CommandPolicy, load_command_policy


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


@pytest.fixture
def policy() -> CommandPolicy:
    return load_command_policy()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def decoy_bot() -> Iterator[str]:
    """A process holding the bot's secrets in its real environment, as the worker would."""
    token = "xoxb-123456789012-123456789012-decoydecoydecoy"
    env = {"PATH": "/usr/bin:/bin", "SLACK_BOT_TOKEN": token, "GITHUB_TOKEN": "ghp_" + "d" * 36}
    proc = subprocess.Popen([PYTHON, "-c", "import time; time.sleep(60)"], env=env)
    try:
        yield token
    finally:
        proc.kill()
        proc.wait()
