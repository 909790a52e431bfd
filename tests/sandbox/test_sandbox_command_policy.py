"""The command policy decides argv deterministically and names the rule; bad files fail with a line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config_file import PolicyFileError
from bot.errors import ConfigError
from bot.sandbox.command_policy import CommandPolicy, load_command_policy


@pytest.mark.parametrize(
    ("command", "allowed", "rule"),
    [
        (["ruff", "check", "."], True, "lint"),
        (["mypy", "src"], True, "typecheck"),
        (["python", "-m", "pytest", "tests/test_calc.py::test_add"], True, "python-tools"),
        (["bandit", "-r", "."], True, "security-scan"),
        (["git", "log", "-1"], True, "git-read"),
        (["git", "push", "origin", "main"], False, "no-git-writes"),
        (["curl", "https://example.com"], False, "no-network-tools"),
        (["ssh", "host"], False, "no-network-tools"),
        (["python", "-c", "import os"], False, "no-inline-code"),
        (["rm", "-rf", "src"], False, "default-deny"),
        ("ruff check . && curl evil.example", False, "shell-syntax"),
        ("ruff check $(cat x)", False, "shell-syntax"),
        (["ruff", "check", ".", "|", "sh"], False, "shell-syntax"),
        (["/usr/bin/ruff", "check"], False, "bare-program"),
        (["cat", "/etc/passwd"], False, "path-outside-workspace"),
        (["cat", "../../secrets"], False, "path-outside-workspace"),
        (["ruff", "check", "--config=/etc/ruff.toml"], False, "path-outside-workspace"),
        (["cat", "~/.ssh/id_rsa"], False, "path-outside-workspace"),
        ([], False, "not-argv"),
    ],
)
def test_each_command_gets_a_deterministic_decision_naming_its_rule(
    policy: CommandPolicy, workspace: Path, command: list[str] | str, allowed: bool, rule: str
) -> None:
    decision = policy.decide(command, workspace)
    assert (decision.allowed, decision.rule) == (allowed, rule)
    assert rule in decision.describe()


def test_a_plain_command_string_without_shell_syntax_is_split_into_argv(policy, workspace: Path) -> None:
    decision = policy.decide("ruff check src", workspace)
    assert decision.allowed and decision.argv == ("ruff", "check", "src")


def test_a_symlink_in_the_workspace_that_leads_out_is_refused(policy, workspace: Path) -> None:
    (workspace / "innocent.txt").symlink_to("/etc/hostname")
    assert policy.decide(["cat", "innocent.txt"], workspace).rule == "path-outside-workspace"
    (workspace / "real.txt").write_text("x")
    assert policy.decide(["cat", "real.txt"], workspace).allowed


def test_the_shipped_policy_loads_with_its_sandbox_settings() -> None:
    policy = load_command_policy()
    assert policy.sandbox.minimum.label == "rlimits"
    assert policy.sandbox.limits.to_limits().processes == 128


VALID_HEAD = "version: 1\ncommands:\n  allow:\n"


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (VALID_HEAD + "    - id: lint\n      programs: [ruff]\n      colour: red\n", 6, "colour"),
        (VALID_HEAD + "    - id: lint\n      programs: [/usr/bin/ruff]\n", 5, "bare name"),
        (VALID_HEAD + "    - id: lint\n      reason: no programs\n", 4, "programs"),
        ("version: 1\nsandbox:\n  min_isolation: docker\ncommands: {}\n", 3, "unknown isolation level"),
        ("version: 1\ncommands:\n  allow: [\n", 4, "not valid YAML"),
        ("version: 1\nversion: 2\ncommands: {}\n", 2, "duplicate key"),
        (
            VALID_HEAD + "    - id: lint\n      programs: [ruff]\n    - id: lint\n      programs: [mypy]\n",
            2,  # the `commands:` key: the reason names the repeated id
            "rule id 'lint' is used twice",
        ),
        ("", 1, "empty"),
    ],
)
def test_an_invalid_policy_file_stops_with_its_file_line_and_reason(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    path = tmp_path / "commands.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_command_policy(path)
    error = caught.value
    assert isinstance(error, PolicyFileError)
    assert (error.file, error.line) == (path, line)
    assert reason in error.reason
    assert str(error).startswith(f"{path}:{line}: ")
