"""A run that names a repo has that repo's checks run before staging; the approver sees them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from bot.adapters.redis_store import RedisRunStore
from bot.domain.models import Severity, Source
from bot.domain.status import RunStatus
from bot.planner.heuristic import HeuristicPlanner
from bot.policies import Policies
from bot.sandbox.command_policy import load_command_policy
from bot.services.dry_run import DryRunSyncer
from bot.services.repo_checks import RepoChecks
from bot.services.runs import RunService
from tests.helpers import PRDS, REPO_ROOT

SAMPLE = REPO_ROOT / "tests" / "fixtures" / "sandbox" / "sample_repo"


def _bare_repo(tmp_path: Path) -> Path:
    """The sample repo (one lint, one type, one test failure) as a git remote at <base>/acme/sample.git."""
    work = tmp_path / "src"
    shutil.copytree(SAMPLE, work)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.test", "-c", "init.defaultBranch=main"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "sample"]):
        subprocess.run([*git, *args], cwd=work, check=True)
    base = tmp_path / "git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(base / "acme" / "sample.git")], check=True)
    return base


def _runs(store: RedisRunStore, tmp_path: Path, base: Path) -> RunService:
    checks = RepoChecks(load_command_policy(), store, git_base_url=f"file://{base}")
    return RunService(
        store, HeuristicPlanner(), DryRunSyncer(tmp_path / "runs", reason="t"), Policies(), repo_checks=checks
    )


async def test_the_repos_failures_are_shown_beside_the_plan(store: RedisRunStore, tmp_path: Path) -> None:
    runs = _runs(store, tmp_path, _bare_repo(tmp_path))
    run, _ = await runs.submit(
        (PRDS / "02_taskmaster_test_prd_tiny.md").read_bytes(), source=Source.CLI, requester="me", repo="acme/sample"
    )
    run = await runs.execute(run.run_id)
    assert run.status is RunStatus.AWAITING_APPROVAL  # the repo's state informs the approval
    assert run.verification is not None
    repo = [f for f in run.verification.findings if f.check.startswith("repo:")]
    assert sorted({f.check for f in repo}) == ["repo:mypy", "repo:pytest", "repo:ruff"]
    assert all(f.severity is Severity.WARNING for f in repo)
    summary = next(f for f in run.verification.findings if f.check == "repo_verification")
    assert "Likely cause" in summary.message and "F401" in summary.message


async def test_a_repo_that_cannot_be_cloned_is_said_not_hidden(store: RedisRunStore, tmp_path: Path) -> None:
    runs = _runs(store, tmp_path, tmp_path / "nowhere")
    run, _ = await runs.submit(
        (PRDS / "02_taskmaster_test_prd_tiny.md").read_bytes(), source=Source.CLI, requester="me", repo="acme/missing"
    )
    run = await runs.execute(run.run_id)
    assert run.status is RunStatus.AWAITING_APPROVAL
    assert run.verification is not None
    note = next(f for f in run.verification.findings if f.check == "repo_verification")
    assert note.severity is Severity.WARNING and "acme/missing was not verified" in note.message
