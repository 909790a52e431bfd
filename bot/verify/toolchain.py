"""Which checks a repository gets: its own `.pass.yml`, or what its files and config suggest.

Detection is pure over the repository's files and the tools this host has; it never runs the
repository's code.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from bot.config_file import load_yaml_model
from bot.verify.findings import JUNIT_FILE, PARSERS

REPO_CHECKS_FILE = ".pass.yml"
_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache", ".tox"}


@dataclass(frozen=True)
class CheckSpec:
    name: str
    argv: tuple[str, ...]
    parser: str
    timeout_s: float | None = None


class _PassCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=40)
    run: list[str] = Field(min_length=1)
    parser: str = "plain"
    timeout_s: float | None = Field(default=None, gt=0)

    def model_post_init(self, __context: object) -> None:
        if self.parser not in PARSERS:
            raise ValueError(f"unknown parser '{self.parser}' (expected one of {', '.join(PARSERS)})")


class PassFile(BaseModel):
    """A repository's own list of checks (`.pass.yml`)."""

    model_config = ConfigDict(extra="forbid")
    checks: list[_PassCheck] = Field(default_factory=list)
    secret_scan: bool = True


def tool_on_sandbox_path(tool: str) -> bool:
    """The sandbox PATH is this interpreter's bin directory, then the system's."""
    path = f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"
    return shutil.which(tool, path=path) is not None


def python_files(root: Path) -> list[Path]:
    found = []
    for path in root.rglob("*.py"):
        if not _SKIP_DIRS.intersection(path.relative_to(root).parts):
            found.append(path)
    return found


def _config_text(root: Path) -> str:
    texts = []
    for name in (
        "pyproject.toml",
        "setup.cfg",
        "mypy.ini",
        ".mypy.ini",
        "ruff.toml",
        ".ruff.toml",
        "tox.ini",
    ):
        path = root / name
        if path.is_file():
            texts.append(f"# {name}\n" + path.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(texts)


def _has_mypy_config(root: Path, config: str) -> bool:
    return (
        (root / "mypy.ini").is_file()
        or (root / ".mypy.ini").is_file()
        or bool(re.search(r"^\[(?:tool\.)?mypy\]", config, re.MULTILINE))
    )


def _mypy_names_targets(config: str) -> bool:
    return bool(re.search(r"^\s*(?:files|packages|modules)\s*=", config, re.MULTILINE))


def _has_tests(root: Path, files: list[Path]) -> bool:
    return (root / "tests").is_dir() or any(p.name.startswith("test_") or p.name.endswith("_test.py") for p in files)


def detect_checks(
    root: Path, *, available: Callable[[str], bool] = tool_on_sandbox_path
) -> tuple[list[CheckSpec], list[str], bool]:
    """(checks to run, notes on checks skipped and why, whether to scan for secrets)."""
    if (root / REPO_CHECKS_FILE).is_file():
        spec = load_yaml_model(root / REPO_CHECKS_FILE, PassFile)
        declared = [CheckSpec(c.name, tuple(c.run), c.parser, c.timeout_s) for c in spec.checks]
        return declared, [f"checks taken from {REPO_CHECKS_FILE}"], spec.secret_scan
    files = python_files(root)
    if not files:
        return [], ["no Python files: no lint, type or test checks detected"], True
    config = _config_text(root)
    checks: list[CheckSpec] = []
    notes: list[str] = []
    if available("ruff"):
        checks.append(CheckSpec("ruff", ("ruff", "check", "--output-format=json", "--no-cache", "."), "ruff"))
    elif available("flake8"):
        checks.append(CheckSpec("flake8", ("flake8", "."), "flake8"))
    else:
        notes.append("lint skipped: neither ruff nor flake8 is installed on the worker (pip install ruff)")
    if _has_mypy_config(root, config):
        if available("mypy"):
            targets = () if _mypy_names_targets(config) else (".",)
            argv = ("mypy", "--no-color-output", "--no-error-summary", "--show-error-codes", *targets)
            checks.append(CheckSpec("mypy", argv, "mypy"))
        else:
            notes.append("type check skipped: the repo configures mypy but it is not installed (pip install mypy)")
    if _has_tests(root, files) and not available("pytest"):
        notes.append("tests skipped: pytest is not installed on the worker (pip install pytest)")
    elif _has_tests(root, files):
        argv = ("python", "-m", "pytest", "-v", "-rfE", "-p", "no:cacheprovider",
                f"--junitxml={JUNIT_FILE}", "-o", "junit_family=xunit1")  # fmt: skip
        checks.append(CheckSpec("pytest", argv, "pytest"))
    if available("bandit"):
        argv = ("bandit", "-r", ".", "-f", "json", "-q", "-x", "./tests,./test,./.venv,./venv")
        checks.append(CheckSpec("bandit", argv, "bandit"))
    else:
        notes.append("security scan skipped: bandit is not installed on the worker")
    return checks, notes, True
