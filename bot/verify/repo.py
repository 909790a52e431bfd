"""`verify_repo`: run a repository's checks in the sandbox and explain the first failure.

The repository is copied into a fresh workspace (its checks may write caches or worse), each
check is decided by the command policy and run in the sandbox with its own timeout, its output
becomes findings, and a diagnosis names the first failing check, the lines that matter and a
likely cause. A git URL or `owner/name@ref` is cloned first (outside the sandbox: it needs the
network) with the read-only token the caller passes.
"""

from __future__ import annotations

import asyncio
import base64
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from bot.domain.models import Finding, RequirementCheck, Severity, VerificationReport
from bot.domain.secrets import find_secrets
from bot.errors import BadInput, ConfigError
from bot.sandbox.broker import RecordFn
from bot.sandbox.command_policy import CommandPolicy
from bot.sandbox.isolation import (
    GUARANTEES,
    WRITABLE_ROOT_WARNING,
    IsolationLevel,
    bwrap_version,
    detect_isolation,
    find_bwrap,
    isolation_requirement,
)
from bot.sandbox.runner import Limits, SandboxResult, run_sandboxed
from bot.sandbox.sandboxed_planner import fresh_workspace, remove_workspace
from bot.verify.diagnosis import CheckRun, Diagnosis, diagnose
from bot.verify.findings import PARSERS, RepoFinding, located
from bot.verify.toolchain import CheckSpec, DetectedChecks, detect_checks

_REPO_SLUG = re.compile(r"^(?P<owner>[\w.-]+)/(?P<name>[\w.-]+?)(?:@(?P<ref>[\w./-]+))?$")
_MAX_SCANNED_BYTES = 1_000_000
_PYTEST_NODE = re.compile(r"^(\S+::\S+)")
_PYTEST_OUTCOMES = ("PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL", "XPASS")
# pytest's "no tests were collected": nothing failed.
_PYTEST_NO_TESTS = 5


@dataclass(frozen=True)
class RepoVerification:
    target: str
    passed: bool
    findings: list[Finding]
    checks: list[CheckRun]
    diagnosis: Diagnosis | None
    isolation: str
    enforced: tuple[str, ...]
    requirements: list[RequirementCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    # From the moment the first failing check finished to the diagnosis being ready.
    time_to_diagnosis_s: float | None = None
    # The box in words: "bwrap, bundled bubblewrap 0.11.0 (/…/bwrap)", "unshare (below bubblewrap: …)".
    sandbox: str = ""

    def report(self) -> VerificationReport:
        return VerificationReport(passed=self.passed, findings=list(self.findings))

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "passed": self.passed,
            "findings": [Finding.model_validate(f.model_dump()).model_dump(mode="json") for f in self.findings],
            "checks": [c.to_json() for c in self.checks],
            "diagnosis": self.diagnosis.to_json() if self.diagnosis else None,
            "isolation": self.isolation,
            "sandbox": self.sandbox,
            "enforced": list(self.enforced),
            "requirements": [r.model_dump(mode="json") for r in self.requirements],
            "notes": self.notes,
            "duration_s": self.duration_s,
            "time_to_diagnosis_s": self.time_to_diagnosis_s,
        }


async def verify_repo(
    target: str | Path,
    policy: CommandPolicy,
    *,
    level: IsolationLevel | None = None,
    check_timeout_s: float | None = None,
    limits: Limits | None = None,
    record: RecordFn | None = None,
    clone_token: SecretStr | None = None,
    git_base_url: str = "https://github.com",
    workspace_parent: Path | None = None,
    max_parallel: int = 2,
    hidden: tuple[Path, ...] = (),
) -> RepoVerification:
    """Verify `target` in the sandbox. `hidden` are host paths the repo's code must never see
    (PASS's data dir: the Redis socket and its AOF) even where a toolchain bind would show them."""
    started = time.monotonic()
    reached = level if level is not None else await detect_isolation()
    sandbox = await describe_sandbox(reached)
    # A repo's own code (its tests, its build) is untrusted: it never runs below the policy's
    # repo-check minimum, by default bwrap, the one level whose root is read-only.
    minimum = max(policy.sandbox.minimum, policy.sandbox.repo_checks_minimum)
    requirement = isolation_requirement(reached, minimum)
    if not requirement.ok:
        return RepoVerification(
            target=str(target),
            passed=False,
            findings=[Finding(check="sandbox", severity=Severity.ERROR, message=requirement.fix or requirement.name)],
            checks=[],
            diagnosis=Diagnosis("sandbox", "verification blocked", [requirement.name], requirement.fix or ""),
            isolation=reached.label,
            enforced=GUARANTEES[reached],
            requirements=[requirement],
            notes=[f"sandbox: {sandbox}; the repo's code was not run"],
            sandbox=sandbox,
        )
    clone_dir: Path | None = None
    source = Path(target)
    is_dir = await asyncio.to_thread(source.is_dir)
    if not (isinstance(target, Path) or is_dir):
        clone_dir = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="passbot-clone-", dir=workspace_parent))
    elif not is_dir:
        raise BadInput(f"{target} is not a directory")
    try:
        if clone_dir is not None:
            source = clone_dir / "repo"
            await clone_repo(str(target), source, token=clone_token, git_base_url=git_base_url)
        workspace = await fresh_workspace(source, workspace_parent)
        try:
            result = await _verify_workspace(
                str(target),
                workspace,
                policy,
                reached,
                _CheckBudget(check_timeout_s, limits, policy.sandbox.test_timeout_s, hidden),
                record,
                max_parallel,
                started,
            )
        finally:
            await remove_workspace(workspace)
    finally:
        if clone_dir is not None:
            await asyncio.to_thread(shutil.rmtree, clone_dir, True)
    return replace(result, sandbox=sandbox, notes=[f"sandbox: {sandbox}", *result.notes])


async def describe_sandbox(level: IsolationLevel) -> str:
    """The level and, at bwrap, which binary and version: what `doctor` and every report show."""
    if level is IsolationLevel.BWRAP and (binary := find_bwrap()) is not None:
        return f"bwrap, {(await bwrap_version(binary)).describe()}"
    if level is IsolationLevel.BWRAP:
        return "bwrap"
    return f"{level.label} (below bubblewrap: root filesystem writable)"


@dataclass(frozen=True)
class _CheckBudget:
    check_timeout_s: float | None
    limits: Limits | None
    test_timeout_s: float
    hidden: tuple[Path, ...]


async def _verify_workspace(
    target: str,
    workspace: Path,
    policy: CommandPolicy,
    level: IsolationLevel,
    budget: _CheckBudget,
    record: RecordFn | None,
    max_parallel: int,
    started: float,
) -> RepoVerification:
    bad_config: CheckRun | None = None
    try:
        detected = await asyncio.to_thread(detect_checks, workspace, test_timeout_s=budget.test_timeout_s)
    except ConfigError as exc:
        detected = DetectedChecks([])
        bad_config = CheckRun(
            name="pass.yml",
            argv=(),
            status="failed",
            detail=str(exc),
            findings=[located("pass.yml", ".pass.yml", None, str(exc).split(": ", 1)[-1])],
        )
    specs, notes, scan_secrets = detected.checks, list(detected.notes), detected.scan_secrets
    gate = asyncio.Semaphore(max_parallel)
    finished_at: dict[str, float] = {}
    enforced: list[tuple[str, ...]] = []

    async def one(spec: CheckSpec) -> CheckRun:
        async with gate:
            run, result = await _run_check(spec, workspace, policy, level, budget)
        finished_at[spec.name] = time.monotonic()
        if result is not None:
            enforced.append(result.enforced)
        if record is not None:
            await record({"event": "verify.check", "actor": "agent", "target": target, **run.to_json()})
        return run

    runs = list(await asyncio.gather(*(one(spec) for spec in specs)))
    for name, why in detected.unavailable:
        finding = located(name, None, None, why, severity=Severity.WARNING)
        runs.append(CheckRun(name, (), "unavailable", detail=why, findings=[finding]))
        notes.append(f"warning: {why}")
    if level < IsolationLevel.BWRAP:
        # Only reachable when a policy lowered the repo-check minimum on purpose: say what that cost.
        warning = located("sandbox", None, None, WRITABLE_ROOT_WARNING, severity=Severity.WARNING)
        runs.append(CheckRun("sandbox", (), "unavailable", detail=WRITABLE_ROOT_WARNING, findings=[warning]))
        notes.append(f"warning: {WRITABLE_ROOT_WARNING}")
    if bad_config is not None:
        runs.insert(0, bad_config)
        finished_at[bad_config.name] = time.monotonic()
    if scan_secrets:
        secrets_run = await asyncio.to_thread(scan_for_secrets, workspace)
        finished_at[secrets_run.name] = time.monotonic()
        runs.append(secrets_run)
    failure_seen = min((finished_at[r.name] for r in runs if r.failed), default=None)
    diagnosis = diagnose(runs)
    ready = time.monotonic()
    findings: list[Finding] = [f for run in runs for f in run.findings]
    return RepoVerification(
        target=target,
        passed=not any(r.failed for r in runs),
        findings=findings,
        checks=runs,
        diagnosis=diagnosis,
        isolation=level.label,
        enforced=enforced[0] if enforced else GUARANTEES[level],
        notes=notes,
        duration_s=round(ready - started, 3),
        time_to_diagnosis_s=round(ready - failure_seen, 4) if failure_seen is not None else None,
    )


async def _run_check(
    spec: CheckSpec,
    workspace: Path,
    policy: CommandPolicy,
    level: IsolationLevel,
    budget: _CheckBudget,
) -> tuple[CheckRun, SandboxResult | None]:
    decision = policy.decide(list(spec.argv), workspace)
    if not decision.allowed:
        finding = located(spec.name, None, None, f"`{' '.join(spec.argv)}` {decision.describe()}")
        run = CheckRun(spec.name, spec.argv, "blocked", rule=decision.rule, detail=decision.reason, findings=[finding])
        return run, None
    timeout = spec.timeout_s or budget.check_timeout_s or policy.sandbox.check_timeout_s
    limits = budget.limits or policy.sandbox.limits.to_limits()
    result = await run_sandboxed(
        decision.argv,
        workspace=workspace,
        level=level,
        timeout_s=timeout,
        limits=limits,
        hidden=budget.hidden,
        reap=True,
    )
    findings = PARSERS[spec.parser](spec.name, result, workspace)

    def finished(status: str, detail: str = "") -> tuple[CheckRun, SandboxResult]:
        run = CheckRun(spec.name, spec.argv, status, result.duration_s, result.exit_code, None, detail, findings)
        return run, result

    if result.timed_out:
        detail = f"killed after {timeout:g} s"
        hanging = _hanging_test(result.stdout) if spec.parser == "pytest" else None
        if hanging:
            detail += f"; {hanging} never finished (it sleeps, loops or waits on the network)"
        findings.append(located(spec.name, hanging.split("::")[0] if hanging else None, None, detail))
        return finished("timed_out", detail)
    if result.killed or result.signal is not None:
        detail = result.describe()
        if result.kill_reason == "memory-limit":
            detail += f" of {limits.memory_mb} MB for the whole check"
        elif result.kill_reason == "output-limit":
            detail += f" (more than {limits.output_kill_bytes // 1_000_000} MB)"
        findings.append(located(spec.name, None, None, f"{spec.name} was {detail}"))
        return finished("killed", detail)
    if result.leftovers:
        count = len(result.leftovers)
        detail = (
            f"left {count} process{'es' if count != 1 else ''} running after it finished "
            f"({'; '.join(result.leftovers[:3])}); the sandbox killed {'them' if count != 1 else 'it'}"
        )
        findings.insert(0, located(spec.name, None, None, f"{spec.name} {detail}"))
        return finished("killed", detail)
    passed = result.exit_code == 0 or (spec.parser == "pytest" and result.exit_code == _PYTEST_NO_TESTS)
    errors = [f for f in findings if f.severity is Severity.ERROR]
    # bandit exits 1 on any issue, a low-severity one too: a tool we parse fails on its errors only.
    if (passed or (findings and spec.parser != "plain")) and not errors:
        return finished("passed")
    if findings:
        return finished("failed")
    findings.extend(PARSERS["plain"](spec.name, result, workspace))
    return finished("failed", _tail(result))


def _tail(result: SandboxResult, lines: int = 3) -> str:
    text = (result.stderr or result.stdout).strip().splitlines()
    return " | ".join(text[-lines:])[:400]


def _hanging_test(output: str) -> str | None:
    """With `pytest -v`, a test's node id is printed when it starts and its outcome when it ends."""
    last = None
    for line in output.splitlines():
        match = _PYTEST_NODE.match(line.strip())
        if match and not any(word in line for word in _PYTEST_OUTCOMES):
            last = match.group(1)
    return last


def scan_for_secrets(root: Path) -> CheckRun:
    """The secret scan runs in-process: it only reads files, as data, with our own rules."""
    started = time.monotonic()
    findings: list[RepoFinding] = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if ".git" in relative.parts or not path.is_file() or path.stat().st_size > _MAX_SCANNED_BYTES:
            continue
        raw = path.read_bytes()
        if b"\x00" in raw[:4096]:
            continue
        text = raw.decode("utf-8", "replace")
        for hit in find_secrets(text):
            line = text.count("\n", 0, hit.start) + 1
            message = f"{hit.description} ({hit.redacted_preview(text)})"
            findings.append(located("secrets", str(relative), line, message, code=hit.rule_id))
    status = "failed" if findings else "passed"
    return CheckRun("secrets", ("secret-scan",), status, round(time.monotonic() - started, 4), findings=findings)


def clone_url(target: str, git_base_url: str) -> tuple[str, str | None]:
    """(url, ref) for `owner/name[@ref]`, or a URL with an optional `#ref`."""
    if match := _REPO_SLUG.match(target):
        return f"{git_base_url.rstrip('/')}/{match['owner']}/{match['name']}.git", match["ref"]
    if target.startswith(("https://", "http://", "file://")):
        url, _, ref = target.partition("#")
        return url, ref or None
    raise BadInput(f"'{target}' is neither a directory, a git URL (https://, file://) nor owner/name[@ref]")


def _token_may_go_to(url: str, git_base_url: str) -> bool:
    target, home = urlsplit(url), urlsplit(git_base_url)
    return target.scheme == "https" and bool(target.hostname) and target.hostname == home.hostname


async def clone_repo(
    target: str, dest: Path, *, token: SecretStr | None, git_base_url: str, timeout_s: float = 120
) -> None:
    url, ref = clone_url(target, git_base_url)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(dest.parent),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    if token is not None and _token_may_go_to(url, git_base_url):
        # Through git's environment config, so the token is in no argv and no URL; and only to the
        # configured GitHub host over https, never to an arbitrary clone URL.
        basic = base64.b64encode(f"x-access-token:{token.get_secret_value()}".encode()).decode()
        env |= {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        }
    argv = [
        "git",
        "clone",
        "--depth",
        "1",
        "--no-tags",
        "--quiet",
        *(["--branch", ref] if ref else []),
        url,
        str(dest),
    ]
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout=timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise BadInput(f"cloning {url} took longer than {timeout_s:g} s") from None
    if proc.returncode != 0:
        reason = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise BadInput(f"could not clone {url}{'@' + ref if ref else ''}: {reason[0][:300]}")
