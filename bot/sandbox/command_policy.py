"""Which commands an agent may run: deterministic allow/deny over argv, never a shell.

Order of decision (the first that applies wins, and names itself in the `Decision`):
1. structural rules that no file can loosen: `not-argv` (empty or not strings), `shell-syntax`
   (a command string using shell syntax, or an argv element that is a shell operator),
   `bare-program` (the program must be a bare name looked up on the sandbox PATH),
   `path-outside-workspace` (an argument naming a path that resolves outside the workspace);
2. `deny` rules of the policy file, in file order;
3. `allow` rules, in file order;
4. `default-deny`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.config_file import load_yaml_model
from bot.sandbox.isolation import IsolationLevel
from bot.sandbox.runner import PROJECT_ROOT, Limits

DEFAULT_COMMANDS_FILE = PROJECT_ROOT / "policies" / "commands.yml"

# Characters that only mean something to a shell. A command string containing one is refused:
# interpreting it is exactly what a prompt injection would want.
_SHELL_CHARS = re.compile(r"[;&|<>`$(){}\n\\*?!#~]|\[|\]")
_SHELL_OPERATORS = frozenset({";", "&", "&&", "|", "||", ">", ">>", "<", "<<", "2>", "2>&1", "&>"})
_MAX_ARGS = 64
_MAX_ARG_CHARS = 4096


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CommandRule(_Strict):
    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    programs: list[str] = Field(min_length=1)
    # Alternatives: the arguments after the program must start with one of these lists.
    # Empty: any arguments.
    prefixes: list[list[str]] = Field(default_factory=list)
    # The rule applies only when one of these arguments appears anywhere (e.g. --force, -c).
    with_any_arg: list[str] = Field(default_factory=list)
    reason: str = ""

    @field_validator("programs")
    @classmethod
    def _bare_names(cls, programs: list[str]) -> list[str]:
        for program in programs:
            if not program or "/" in program or program != program.strip():
                raise ValueError(f"program '{program}' must be a bare name such as 'ruff'")
        return programs

    def matches(self, argv: Sequence[str]) -> bool:
        if argv[0] not in self.programs:
            return False
        args = list(argv[1:])
        if self.prefixes and not any(args[: len(p)] == p for p in self.prefixes):
            return False
        if self.with_any_arg:
            return any(arg in self.with_any_arg or arg.split("=", 1)[0] in self.with_any_arg for arg in args)
        return True


class CommandRules(_Strict):
    deny: list[CommandRule] = Field(default_factory=list)
    allow: list[CommandRule] = Field(default_factory=list)


class SandboxLimits(_Strict):
    cpu_seconds: int = Field(default=120, gt=0)
    memory_mb: int = Field(default=2048, ge=64)
    file_size_mb: int = Field(default=64, gt=0)
    open_files: int = Field(default=256, ge=16)
    processes: int = Field(default=128, ge=4)
    output_kb: int = Field(default=1024, gt=0)

    def to_limits(self) -> Limits:
        return Limits(
            cpu_seconds=self.cpu_seconds,
            memory_mb=self.memory_mb,
            file_size_mb=self.file_size_mb,
            open_files=self.open_files,
            processes=self.processes,
            output_bytes=self.output_kb * 1024,
            output_kill_bytes=max(self.output_kb * 1024 * 64, 16_000_000),
        )


class SandboxSettings(_Strict):
    min_isolation: str = "rlimits"
    # Repo checks run the repo's own code: below bwrap the root filesystem is writable (the code
    # could drop a .pth into PASS's venv, write to /tmp and $HOME), so they need bwrap unless lowered.
    repo_checks_min_isolation: str = "bwrap"
    check_timeout_s: float = Field(default=300, gt=0)
    # Each test of a repo's pytest run: a hung test is cut off and named, the others still run.
    test_timeout_s: float = Field(default=60, gt=0)
    # Programs that run the workspace's own code (tests, conftest, mypy plugins): an agent's
    # request for one is refused below repo_checks_min_isolation, like a repo check.
    repo_code_programs: list[str] = Field(default_factory=lambda: ["pytest", "python", "python3", "mypy"])
    agent_timeout_s: float = Field(default=600, gt=0)
    limits: SandboxLimits = Field(default_factory=SandboxLimits)

    @field_validator("min_isolation", "repo_checks_min_isolation")
    @classmethod
    def _known_level(cls, value: str) -> str:
        IsolationLevel.parse(value)
        return value

    @property
    def minimum(self) -> IsolationLevel:
        return IsolationLevel.parse(self.min_isolation)

    @property
    def repo_checks_minimum(self) -> IsolationLevel:
        return IsolationLevel.parse(self.repo_checks_min_isolation)


class CommandsFile(_Strict):
    version: int = Field(ge=1, le=1)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    commands: CommandRules

    @field_validator("commands")
    @classmethod
    def _unique_ids(cls, rules: CommandRules) -> CommandRules:
        seen: set[str] = set()
        for rule in [*rules.deny, *rules.allow]:
            if rule.id in seen:
                raise ValueError(f"rule id '{rule.id}' is used twice")
            seen.add(rule.id)
        return rules


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule: str
    reason: str
    argv: tuple[str, ...]

    def describe(self) -> str:
        verdict = "allowed" if self.allowed else "blocked"
        return f"{verdict} by rule '{self.rule}': {self.reason}"


class CommandPolicy:
    def __init__(self, spec: CommandsFile, *, source: Path | None = None) -> None:
        self.spec = spec
        self.source = source

    @property
    def sandbox(self) -> SandboxSettings:
        return self.spec.sandbox

    def decide(self, command: str | Sequence[str], workspace: Path) -> Decision:
        argv_or_refusal = _to_argv(command)
        if isinstance(argv_or_refusal, Decision):
            return argv_or_refusal
        argv = argv_or_refusal
        refusal = _structural_refusal(argv, workspace)
        if refusal is not None:
            return refusal
        for rule in self.spec.commands.deny:
            if rule.matches(argv):
                return Decision(False, rule.id, rule.reason or "denied by policy", argv)
        for rule in self.spec.commands.allow:
            if rule.matches(argv):
                return Decision(True, rule.id, rule.reason or "allowed by policy", argv)
        return Decision(False, "default-deny", f"no allow rule matches `{argv[0]}`", argv)


def load_command_policy(path: Path = DEFAULT_COMMANDS_FILE) -> CommandPolicy:
    """Load and validate; an invalid file raises `PolicyFileError` (a ConfigError) naming the line."""
    return CommandPolicy(load_yaml_model(path, CommandsFile), source=path)


def _to_argv(command: str | Sequence[str]) -> tuple[str, ...] | Decision:
    if isinstance(command, str):
        if _SHELL_CHARS.search(command):
            return Decision(False, "shell-syntax", "the command uses shell syntax; send an argv list", (command,))
        try:
            return tuple(shlex.split(command))
        except ValueError:
            return Decision(False, "shell-syntax", "the command string does not split into words", (command,))
    if not all(isinstance(arg, str) for arg in command):
        return Decision(False, "not-argv", "every argument must be a string", ())
    return tuple(command)


def _structural_refusal(argv: tuple[str, ...], workspace: Path) -> Decision | None:
    if not argv or not argv[0]:
        return Decision(False, "not-argv", "empty command", argv)
    if len(argv) > _MAX_ARGS or any(len(arg) > _MAX_ARG_CHARS or "\x00" in arg for arg in argv):
        return Decision(False, "not-argv", "too many or too long arguments", argv)
    operators = [arg for arg in argv if arg in _SHELL_OPERATORS or "$(" in arg or "`" in arg]
    if operators:
        return Decision(False, "shell-syntax", f"shell syntax {operators[0]!r} is not interpreted", argv)
    if "/" in argv[0]:
        return Decision(False, "bare-program", "the program must be a bare name found on the sandbox PATH", argv)
    root = workspace.resolve()
    for arg in argv[1:]:
        outside = _path_outside(arg, root)
        if outside is not None:
            return Decision(False, "path-outside-workspace", f"argument {outside!r} is outside the workspace", argv)
    return None


def _path_outside(arg: str, root: Path) -> str | None:
    value = arg
    if arg.startswith("-"):
        if "=" not in arg:
            return None
        value = arg.split("=", 1)[1]
    if value.startswith("~"):
        return value
    candidate = root / value.split("::", 1)[0]
    looks_like_path = value.startswith("/") or "/" in value or value.startswith("..")
    if not looks_like_path and not candidate.is_symlink():
        return None
    # Resolving follows symlinks, so a link in the repo pointing at /etc counts as outside.
    return None if candidate.resolve().is_relative_to(root) else value
