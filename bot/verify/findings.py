"""Findings with a location, and the parsers that turn each tool's output into them.

`RepoFinding` is a `Finding` whose file/line travel with it in Python but are left out of its
JSON (the contract's Finding is check/severity/message/item_key); the message itself starts
with `file:line:` so a person sees the location either way.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from pydantic import Field

from bot.domain.models import Finding, Severity
from bot.sandbox.runner import SandboxResult


class RepoFinding(Finding):
    file: str | None = Field(default=None, exclude=True)
    line: int | None = Field(default=None, exclude=True)
    code: str | None = Field(default=None, exclude=True)
    # The tool's own words, without location or code: what a diagnosis quotes.
    text: str = Field(default="", exclude=True)


def located(
    check: str,
    file: str | None,
    line: int | None,
    text: str,
    *,
    code: str | None = None,
    severity: Severity = Severity.ERROR,
    code_last: bool = False,
) -> RepoFinding:
    where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
    shown = f"{code} {text}" if code else text
    if code and code_last:
        shown = f"{text}  [{code}]"
    return RepoFinding(
        check=check,
        severity=severity,
        message=f"{where}{shown}".strip(),
        file=file,
        line=line,
        code=code,
        text=text,
    )


def _relative(path: str, workspace: Path) -> str:
    candidate = Path(path)
    if candidate.is_absolute() and candidate.is_relative_to(workspace):
        return str(candidate.relative_to(workspace))
    return path.removeprefix("./")


def parse_ruff(check: str, result: SandboxResult, workspace: Path) -> list[RepoFinding]:
    try:
        items = json.loads(result.stdout or "[]")
    except ValueError:
        return []
    return [
        located(
            check,
            _relative(item.get("filename", ""), workspace),
            (item.get("location") or {}).get("row"),
            item.get("message", ""),
            code=item.get("code"),
        )
        for item in items
        if isinstance(item, dict)
    ]


_FLAKE8 = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):\d+: (?P<code>[A-Z]+\d+) (?P<msg>.*)$")
_MYPY = re.compile(
    r"^(?P<file>[^:\n]+):(?P<line>\d+):(?:\d+:)? (?P<sev>error|warning): "
    r"(?P<msg>.*?)(?:  \[(?P<code>[\w-]+)\])?$"
)


def parse_flake8(check: str, result: SandboxResult, workspace: Path) -> list[RepoFinding]:
    found = []
    for line in result.stdout.splitlines():
        if match := _FLAKE8.match(line):
            file = _relative(match["file"], workspace)
            found.append(located(check, file, int(match["line"]), match["msg"], code=match["code"]))
    return found


def parse_mypy(check: str, result: SandboxResult, workspace: Path) -> list[RepoFinding]:
    found = []
    for line in result.stdout.splitlines():
        if match := _MYPY.match(line):
            severity = Severity.ERROR if match["sev"] == "error" else Severity.WARNING
            file = _relative(match["file"], workspace)
            found.append(
                located(
                    check,
                    file,
                    int(match["line"]),
                    match["msg"],
                    code=match["code"],
                    severity=severity,
                    code_last=True,
                )
            )
    return found


JUNIT_FILE = ".pass-junit.xml"
_PYTEST_FAILED = re.compile(r"^(?:FAILED|ERROR) (?P<node>\S+?)(?: - (?P<msg>.*))?$")
# pytest-timeout's failure: "Failed: Timeout (>3.0s) from pytest-timeout."
_PYTEST_TIMEOUT = re.compile(r"Timeout \(>(?P<seconds>[\d.]+)s\) from pytest-timeout")


def _hung(node: str, message: str) -> str | None:
    """The words for a test cut off by its per-test limit, or None when it failed otherwise."""
    if match := _PYTEST_TIMEOUT.search(message):
        return f"{node} hung: cut off after {float(match['seconds']):g} s (the per-test limit)"
    return None


def parse_pytest(check: str, result: SandboxResult, workspace: Path) -> list[RepoFinding]:
    junit = workspace / JUNIT_FILE
    if junit.is_file():
        found = _parse_junit(check, junit)
        # A hung test first: it is what held the run, and what a diagnosis should name.
        return sorted(found, key=lambda f: " hung: cut off after " not in f.text)
    found = []
    for line in result.stdout.splitlines():
        if match := _PYTEST_FAILED.match(line.strip()):
            node = match["node"]
            text = _hung(node, match["msg"] or "") or f"{node} failed: {match['msg'] or ''}".strip()
            found.append(located(check, node.split("::")[0], None, text))
    return found


def _parse_junit(check: str, path: Path) -> list[RepoFinding]:
    try:
        root = ET.parse(path).getroot()  # noqa: S314 - written by the pytest we just ran, in our workspace
    except ET.ParseError:
        return []
    found = []
    for case in root.iter("testcase"):
        for outcome in ("failure", "error"):
            problem = case.find(outcome)
            if problem is None:
                continue
            file = case.get("file")
            line = case.get("line")
            node = f"{file}::{case.get('name')}" if file else f"{case.get('classname')}::{case.get('name')}"
            message = (problem.get("message") or "").splitlines()[0] if problem.get("message") else outcome
            verb = "failed" if outcome == "failure" else "errored"
            text = _hung(node, message) or f"{node} {verb}: {message}"
            # junit lines are 0-based def lines; show the 1-based line of the test function.
            found.append(located(check, file, int(line) + 1 if line else None, text))
    return found


_BANDIT_SEVERITY = {"HIGH": Severity.ERROR, "MEDIUM": Severity.WARNING, "LOW": Severity.INFO}


def parse_bandit(check: str, result: SandboxResult, workspace: Path) -> list[RepoFinding]:
    try:
        report = json.loads(result.stdout or "{}")
    except ValueError:
        return []
    return [
        located(
            check,
            _relative(item.get("filename", ""), workspace),
            item.get("line_number"),
            item.get("issue_text", ""),
            code=item.get("test_id"),
            severity=_BANDIT_SEVERITY.get(str(item.get("issue_severity")), Severity.WARNING),
        )
        for item in report.get("results", [])
        if isinstance(item, dict)
    ]


def parse_plain(check: str, result: SandboxResult, workspace: Path) -> list[RepoFinding]:
    """A tool we cannot parse: a failure is one finding with its first meaningful lines."""
    if result.exit_code == 0:
        return []
    lines = [line for line in (result.stdout + "\n" + result.stderr).splitlines() if line.strip()]
    return [located(check, None, None, " | ".join(lines[:3])[:500] or f"exited with {result.exit_code}")]


PARSERS = {
    "ruff": parse_ruff,
    "flake8": parse_flake8,
    "mypy": parse_mypy,
    "pytest": parse_pytest,
    "bandit": parse_bandit,
    "plain": parse_plain,
}
