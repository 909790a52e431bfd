"""From check results to a diagnosis: the first failing check, the lines that matter, a likely cause."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain.models import Severity
from bot.verify.findings import RepoFinding


@dataclass(frozen=True)
class CheckRun:
    """How one check went. `status`: passed, failed, blocked, timed_out, killed, error, or
    unavailable (the worker cannot run it: a warning finding, not a failure of the repo)."""

    name: str
    argv: tuple[str, ...]
    status: str
    duration_s: float = 0.0
    exit_code: int | None = None
    rule: str | None = None
    detail: str = ""
    findings: list[RepoFinding] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status not in ("passed", "unavailable")

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "argv": list(self.argv),
            "status": self.status,
            "duration_s": self.duration_s,
            "exit_code": self.exit_code,
            "rule": self.rule,
            "detail": self.detail,
            "findings": len(self.findings),
        }


@dataclass(frozen=True)
class Diagnosis:
    failing_check: str
    summary: str
    lines: list[str]
    likely_cause: str

    def to_json(self) -> dict[str, object]:
        return {
            "failing_check": self.failing_check,
            "summary": self.summary,
            "lines": self.lines,
            "likely_cause": self.likely_cause,
        }

    def render(self) -> str:
        body = "\n".join(f"  {line}" for line in self.lines)
        return f"{self.summary}\nLikely cause: {self.likely_cause}\n{body}".rstrip()


def _count(run: CheckRun) -> str:
    errors = sum(1 for f in run.findings if f.severity is Severity.ERROR)
    return f"{run.name} ({run.status}, {errors} error{'s' if errors != 1 else ''})"


def _cause(run: CheckRun) -> str:
    if run.status == "blocked":
        return f"the command `{' '.join(run.argv)}` is blocked by command-policy rule '{run.rule}'"
    if run.status == "timed_out":
        detail = run.detail or "something hangs or waits forever"
        return f"{run.name} did not finish within its timeout: {detail}"
    if run.status == "killed":
        return f"{run.name} was stopped by the sandbox: {run.detail}"
    first = next((f for f in run.findings if f.severity is Severity.ERROR), None)
    if first is None:
        return f"{run.name} failed without parseable findings: {run.detail or 'see its output'}"
    where = f"{first.file}:{first.line}" if first.file and first.line else (first.file or "the repository")
    text = first.text or first.message
    if run.name in ("ruff", "flake8"):
        return f"lint rule {first.code or '?'} is broken at {where}: {text}"
    if run.name == "mypy":
        return f"a type error at {where}: {text}"
    if run.name == "pytest":
        return f"a failing test at {where}: {text}"
    if run.name == "bandit":
        return f"a security issue ({first.code}) at {where}: {text}"
    if run.name == "secrets":
        return f"a credential is committed at {where}; revoke it and remove it from the history"
    return f"{run.name} reports a problem at {where}: {text}"


def diagnose(runs: list[CheckRun], *, max_lines: int = 8) -> Diagnosis | None:
    failing = [run for run in runs if run.failed]
    if not failing:
        return None
    first = failing[0]
    lines: list[str] = []
    for run in failing:
        errors = [f for f in run.findings if f.severity is Severity.ERROR] or run.findings
        shown = [f"{run.name}: {f.message}" for f in errors[:3]]
        if not shown:
            shown = [f"{run.name}: {run.detail or run.status}"]
        lines.extend(shown)
    summary = f"{len(failing)} of {len(runs)} checks failed: " + ", ".join(_count(r) for r in failing)
    return Diagnosis(failing_check=first.name, summary=summary, lines=lines[:max_lines], likely_cause=_cause(first))
