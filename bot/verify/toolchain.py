"""Which checks a repository gets: its own `.pass.yml`, or what its files and config suggest.

Detection is pure over the repository's files and the tools this host has; it never runs the
repository's code. The toolchain (ruff, mypy, bandit, pytest, pytest-timeout) is a dependency of
PASS, so a check that is still missing is a warning finding on the report, not a quiet note.
A repo's `.pass.yml` is untrusted YAML: it is read with a size limit and a bound on what its
aliases expand to, so a few hundred bytes cannot make the worker build gigabytes.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from bot.config_file import PolicyFileError, load_yaml_model
from bot.verify.findings import JUNIT_FILE, PARSERS

REPO_CHECKS_FILE = ".pass.yml"
# A real .pass.yml is a few lines; these bounds are far above that and far below harm.
MAX_PASS_FILE_BYTES = 64 * 1024
MAX_PASS_FILE_NODES = 10_000
DEFAULT_TEST_TIMEOUT_S = 60.0
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


@dataclass(frozen=True)
class DetectedChecks:
    checks: list[CheckSpec]
    notes: list[str] = field(default_factory=list)
    # A check the repo should get but this worker cannot run: shown as a warning finding.
    unavailable: list[tuple[str, str]] = field(default_factory=list)
    scan_secrets: bool = True


def _expanded_size(node: yaml.Node, memo: dict[int, int], active: set[int]) -> int:
    """Nodes after alias expansion; an alias counts its target's whole size every time it is used."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        return MAX_PASS_FILE_NODES + 1  # a recursive alias never ends
    active.add(key)
    size = 1
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            size += _expanded_size(item, memo, active)
            if size > MAX_PASS_FILE_NODES:
                break
    elif isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            size += _expanded_size(key_node, memo, active) + _expanded_size(value_node, memo, active)
            if size > MAX_PASS_FILE_NODES:
                break
    active.discard(key)
    memo[key] = size
    return size


def load_pass_file(path: Path) -> PassFile:
    """A repo's `.pass.yml`, refused with the line when it is too big or its aliases expand too far."""
    if path.stat().st_size > MAX_PASS_FILE_BYTES:
        raise PolicyFileError(path, 1, f"the file is larger than {MAX_PASS_FILE_BYTES // 1024} KB")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise PolicyFileError(path, line, f"not valid YAML: {exc.problem}") from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise PolicyFileError(path, 1, f"not valid YAML: {exc.__class__.__name__}") from None
    if node is not None and _expanded_size(node, {}, set()) > MAX_PASS_FILE_NODES:
        raise PolicyFileError(
            path,
            node.start_mark.line + 1,
            f"its anchors and aliases expand to more than {MAX_PASS_FILE_NODES} values (a YAML alias bomb?)",
        )
    return load_yaml_model(path, PassFile)


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


def pytest_timeout_installed() -> bool:
    """The sandbox runs this interpreter, so the plugin is there when it is importable here."""
    return importlib.util.find_spec("pytest_timeout") is not None


_REINSTALL = "reinstall PASS (`pip install -e .` installs the whole check toolchain)"


def detect_checks(
    root: Path,
    *,
    available: Callable[[str], bool] = tool_on_sandbox_path,
    per_test_timeout: Callable[[], bool] = pytest_timeout_installed,
    test_timeout_s: float = DEFAULT_TEST_TIMEOUT_S,
) -> DetectedChecks:
    """The checks to run, notes, the checks this worker cannot run, and whether to scan for secrets.

    Each test gets `test_timeout_s` (pytest-timeout, by SIGALRM inside the test, so the run goes on
    and the hung test is reported by name with the others' results)."""
    if (root / REPO_CHECKS_FILE).is_file():
        spec = load_pass_file(root / REPO_CHECKS_FILE)
        declared = [CheckSpec(c.name, tuple(c.run), c.parser, c.timeout_s) for c in spec.checks]
        return DetectedChecks(declared, [f"checks taken from {REPO_CHECKS_FILE}"], scan_secrets=spec.secret_scan)
    files = python_files(root)
    if not files:
        return DetectedChecks([], ["no Python files: no lint, type or test checks detected"])
    config = _config_text(root)
    checks: list[CheckSpec] = []
    missing: list[tuple[str, str]] = []
    if available("ruff"):
        checks.append(CheckSpec("ruff", ("ruff", "check", "--output-format=json", "--no-cache", "."), "ruff"))
    elif available("flake8"):
        checks.append(CheckSpec("flake8", ("flake8", "."), "flake8"))
    else:
        missing.append(("lint", f"lint did not run: neither ruff nor flake8 is installed on the worker; {_REINSTALL}"))
    if _has_mypy_config(root, config):
        if available("mypy"):
            targets = () if _mypy_names_targets(config) else (".",)
            argv = ("mypy", "--no-color-output", "--no-error-summary", "--show-error-codes", *targets)
            checks.append(CheckSpec("mypy", argv, "mypy"))
        else:
            why = f"type check did not run: the repo configures mypy but it is missing; {_REINSTALL}"
            missing.append(("mypy", why))
    if _has_tests(root, files) and not available("pytest"):
        missing.append(("pytest", f"tests did not run: pytest is not installed on the worker; {_REINSTALL}"))
    elif _has_tests(root, files):
        argv = ("python", "-m", "pytest", "-v", "-rfE", "-p", "no:cacheprovider",
                f"--junitxml={JUNIT_FILE}", "-o", "junit_family=xunit1")  # fmt: skip
        if per_test_timeout():
            argv += (f"--timeout={test_timeout_s:g}", "--timeout-method=signal")
        else:
            missing.append(
                ("pytest", f"no per-test time limit: pytest-timeout is missing, a hung test holds the whole check; "
                 f"{_REINSTALL}")
            )  # fmt: skip
        checks.append(CheckSpec("pytest", argv, "pytest"))
    if available("bandit"):
        argv = ("bandit", "-r", ".", "-f", "json", "-q", "-x", "./tests,./test,./.venv,./venv")
        checks.append(CheckSpec("bandit", argv, "bandit"))
    else:
        missing.append(("bandit", f"security scan did not run: bandit is not installed on the worker; {_REINSTALL}"))
    return DetectedChecks(checks, unavailable=missing)
