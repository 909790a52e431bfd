"""A hostile repository verified at each isolation level: it reaches nothing of the host or of PASS.

At bwrap (the one on PATH and the bundled one) its tests run and every escape is blocked: no
connection to a loopback listener, no token from the environment or /proc, no Redis over PASS's
unix socket, no read of the AOF, no .pth in PASS's site-packages, nothing left in the host's /tmp,
/var/tmp or $HOME. Below bwrap the shipped policy does not run the repo's code at all, and says why.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from attack import AOF_MARKER, Stage, loot, stage
from sandbox_helpers import AVAILABLE, with_sandbox

from bot.sandbox.command_policy import CommandPolicy
from bot.sandbox.isolation import IsolationLevel, use_bwrap
from bot.sandbox.runner import Limits
from bot.verify.repo import verify_repo

TOKENS = {"SLACK_BOT_TOKEN": "xoxb-111111111111-222222222222-hostilehostile", "GITHUB_TOKEN": "ghp_" + "h" * 36}


def short_tests(policy: CommandPolicy, seconds: float = 2) -> CommandPolicy:
    """The shipped policy with a short per-test limit, so the hanging test is cut off quickly."""
    return with_sandbox(policy, test_timeout_s=seconds)


@pytest.fixture
def bwrap_source(request: pytest.FixtureRequest) -> Iterator[str]:
    source: str = request.param
    if source == "path" and shutil.which("bwrap") is None:
        pytest.skip("no bwrap on PATH on this host (apt-get install bubblewrap)")
    use_bwrap(source)
    try:
        yield source
    finally:
        use_bwrap("auto")


@pytest.fixture
def attacked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    with stage(tmp_path) as the_stage:
        yield the_stage


@pytest.mark.parametrize("bwrap_source", ["path", "bundled"], indirect=True)
async def test_at_bwrap_every_escape_is_blocked_and_the_real_problems_are_found(
    policy: CommandPolicy, attacked: Stage, bwrap_source: str
) -> None:
    result = await verify_repo(
        attacked.repo, short_tests(policy), level=IsolationLevel.BWRAP, hidden=(attacked.data_dir,)
    )
    expected_binary = "PATH bubblewrap" if bwrap_source == "path" else "bundled bubblewrap 0.11"
    assert result.sandbox.startswith(f"bwrap, {expected_binary}"), result.sandbox
    messages = [f.message for f in result.findings]
    stolen = loot(messages)
    assert stolen == {
        "network": "blocked ECONNREFUSED",  # the box has its own loopback, where nothing listens
        "env_tokens": [],
        "proc_tokens": "ok []",  # a fresh /proc: the worker's environ is not there
        "redis": "blocked ENOENT",  # PASS's data dir is not in the box
        "aof": "blocked ENOENT",
        "pth": "blocked EROFS",  # PASS's venv is bound read-only
        "tmp": stolen["tmp"],  # the box's private /tmp: checked below, on the host
        "home": stolen["home"],
        "var_tmp": "blocked EROFS",  # no /var at all; the box's root is read-only
    }
    # Host side: nothing arrived, nothing was written, nothing leaked into the report.
    assert attacked.connections == []
    assert attacked.landed() == []
    assert not attacked.redis_written()
    report = str(result.to_json())
    assert AOF_MARKER not in report and not [t for t in TOKENS.values() if t in report]
    # And what is really wrong with the repo is reported, the hung test by name and limit.
    assert "src/hostile/util.py:1: F401 `os` imported but unused" in messages
    assert "tests/test_hostile.py::test_sleeps_forever hung: cut off after 2 s (the per-test limit)" in " ".join(
        messages
    )
    assert any("test_add_is_wrong_on_purpose failed: assert 4 == 5" in m for m in messages)
    assert not any("test_quick" in m for m in messages)
    statuses = {c.name: c.status for c in result.checks}
    assert statuses["ruff"] == "failed" and statuses["pytest"] == "failed"
    # bandit's one finding (B404, importing subprocess) is low severity: shown, but not a failure.
    assert statuses["bandit"] == "passed"
    assert [f.severity.value for f in result.findings if f.check == "bandit"] == ["info"]
    diagnosis = result.diagnosis
    assert diagnosis is not None
    assert any("test_sleeps_forever hung: cut off after 2 s" in line for line in diagnosis.lines)


@pytest.mark.parametrize("level", [IsolationLevel.UNSHARE, IsolationLevel.RLIMITS], ids=["unshare", "rlimits"])
async def test_below_bwrap_the_repos_code_is_not_run_and_the_report_says_how_to_fix_it(
    policy: CommandPolicy, attacked: Stage, level: IsolationLevel
) -> None:
    if not AVAILABLE[level]:
        pytest.skip(f"{level.label} fails here")
    result = await verify_repo(attacked.repo, policy, level=level, hidden=(attacked.data_dir,))
    assert result.checks == [] and not result.passed
    assert "pip install -e ." in result.findings[0].message
    assert f"sandbox: {level.label} (below bubblewrap: root filesystem writable)" in result.notes[0]
    assert attacked.landed() == [] and attacked.connections == []
    assert not attacked.redis_written()


async def test_a_daemon_that_outlives_its_check_is_named_and_killed(policy: CommandPolicy) -> None:
    from sandbox_helpers import FIXTURES, alive_with

    best = max(level for level, works in AVAILABLE.items() if works)
    # Every level that works here (lowered on purpose): each must name and kill the daemon.
    lowered = with_sandbox(policy, repo_checks_min_isolation="rlimits")
    result = await verify_repo(FIXTURES / "hostile_repos" / "daemon", lowered, level=best)
    pytest_run = next(c for c in result.checks if c.name == "pytest")
    assert pytest_run.status == "killed"
    assert "left 1 process running after it finished" in pytest_run.detail
    assert "passbot-hostile-daemon-marker" in pytest_run.detail
    assert alive_with("passbot-hostile-daemon-marker") == []


async def test_printing_a_gigabyte_ends_the_check_with_a_named_finding(policy: CommandPolicy) -> None:
    from sandbox_helpers import FIXTURES

    result = await verify_repo(FIXTURES / "hostile_repos" / "flood", policy, level=IsolationLevel.BWRAP)
    pytest_run = next(c for c in result.checks if c.name == "pytest")
    assert pytest_run.status == "killed"
    assert pytest_run.detail == "killed for flooding its output (more than 67 MB)"


@pytest.mark.parametrize("bound", ["cgroup", "watchdog"])
async def test_allocating_past_the_memory_limit_across_processes_is_named(
    policy: CommandPolicy, bound: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four processes of 384 MB under a 512 MB limit: a memory cgroup where the host has one, else the
    sampling watchdog, ends the check with the limit named."""
    from sandbox_helpers import FIXTURES

    from bot.sandbox import cgroup

    probe = cgroup.SandboxCgroup.create(8, 1 << 30)
    has_memory_cgroup = probe is not None and probe.memory_dir is not None
    if probe is not None:
        probe.try_remove()
    if bound == "cgroup" and not has_memory_cgroup:
        pytest.skip("no memory cgroup on this host: the watchdog case covers it")
    if bound == "watchdog":
        # A host that gives us no cgroup at all.
        monkeypatch.setattr(cgroup.SandboxCgroup, "create", classmethod(lambda cls, *args, **kwargs: None))
    limits = Limits(memory_mb=512, cpu_seconds=30)
    result = await verify_repo(FIXTURES / "hostile_repos" / "memhog", policy, level=IsolationLevel.BWRAP, limits=limits)
    pytest_run = next(c for c in result.checks if c.name == "pytest")
    assert pytest_run.status == "killed", pytest_run
    assert pytest_run.detail == "killed for going past the memory limit of 512 MB for the whole check"
