"""Repository verification: exactly the problems a repo has, and a diagnosis that points at them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sandbox_helpers import ALL_LEVELS, AVAILABLE, FIXTURES, Recorder, at, with_sandbox

from bot.errors import BadInput
from bot.sandbox.command_policy import CommandPolicy, CommandsFile
from bot.sandbox.isolation import WRITABLE_ROOT_WARNING, IsolationLevel
from bot.verify.repo import verify_repo

SAMPLE = FIXTURES / "sample_repo"
HOSTILE_REPOS = FIXTURES / "hostile_repos"
BEST = max(level for level, works in AVAILABLE.items() if works)

EXPECTED = [
    ("ruff", "error", "src/sample/calc.py:1: F401 `os` imported but unused"),
    (
        "mypy",
        "error",
        'src/sample/calc.py:9: Incompatible return value type (got "int", expected "str")  [return-value]',
    ),
    (
        "pytest",
        "error",
        "tests/test_calc.py:8: tests/test_calc.py::test_add_is_wrong_on_purpose failed: assert 4 == 5",
    ),
]


@at(*ALL_LEVELS)
async def test_the_sample_repo_gets_exactly_its_three_problems_and_a_pointed_diagnosis(
    policy: CommandPolicy, level: IsolationLevel, recorder: Recorder
) -> None:
    # rlimits only is below the shipped repo-check minimum; a policy may lower it explicitly.
    lowered = CommandPolicy(
        CommandsFile.model_validate(
            {
                **policy.spec.model_dump(),
                "sandbox": {**policy.spec.sandbox.model_dump(), "repo_checks_min_isolation": "rlimits"},
            }
        )
    )
    result = await verify_repo(SAMPLE, lowered, level=level, record=recorder)
    # Below bwrap the report also says, as a warning, that the repo's code had a writable root.
    lowered_warning = [("sandbox", "warning", WRITABLE_ROOT_WARNING)] if level < IsolationLevel.BWRAP else []
    assert [(f.check, f.severity.value, f.message) for f in result.findings] == EXPECTED + lowered_warning
    assert not result.passed
    assert result.isolation == level.label
    assert {c.name: c.status for c in result.checks} == {
        "ruff": "failed",
        "mypy": "failed",
        "pytest": "failed",
        "bandit": "passed",
        "secrets": "passed",
        **({"sandbox": "unavailable"} if lowered_warning else {}),
    }
    diagnosis = result.diagnosis
    assert diagnosis is not None
    assert diagnosis.failing_check == "ruff"
    assert diagnosis.likely_cause == "lint rule F401 is broken at src/sample/calc.py:1: `os` imported but unused"
    assert diagnosis.lines == [f"{check}: {message}" for check, _, message in EXPECTED]
    assert result.time_to_diagnosis_s is not None and result.time_to_diagnosis_s >= 0
    # Checks run two at a time, so events arrive in completion order.
    assert sorted(e["name"] for e in recorder.events) == ["bandit", "mypy", "pytest", "ruff"]


async def test_findings_keep_the_contracts_json_shape(policy: CommandPolicy) -> None:
    result = await verify_repo(SAMPLE, policy, level=BEST)
    payload = result.to_json()
    assert all(set(f) == {"check", "severity", "message", "item_key"} for f in payload["findings"])
    assert result.report().model_dump(mode="json")["findings"] == payload["findings"]


async def test_a_test_that_sleeps_forever_is_killed_and_named(policy: CommandPolicy) -> None:
    result = await verify_repo(HOSTILE_REPOS / "sleepy", policy, level=BEST, check_timeout_s=3)
    pytest_run = next(c for c in result.checks if c.name == "pytest")
    assert pytest_run.status == "timed_out"
    assert result.diagnosis is not None and result.diagnosis.failing_check == "pytest"
    assert "tests/test_sleep.py::test_sleeps_forever never finished" in result.diagnosis.likely_cause


async def test_a_repo_asking_for_a_denied_command_gets_a_finding_naming_the_rule(
    policy: CommandPolicy,
) -> None:
    result = await verify_repo(HOSTILE_REPOS / "denied", policy, level=BEST)
    statuses = {c.name: (c.status, c.rule) for c in result.checks}
    assert statuses == {
        "exfiltrate": ("blocked", "no-network-tools"),
        "lint": ("passed", None),
        "secrets": ("passed", None),
    }
    assert result.findings[0].check == "exfiltrate"
    assert "blocked by rule 'no-network-tools'" in result.findings[0].message
    assert result.diagnosis is not None
    assert "blocked by command-policy rule 'no-network-tools'" in result.diagnosis.likely_cause


async def test_a_committed_token_is_found_without_being_repeated(policy: CommandPolicy, tmp_path: Path) -> None:
    token = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
    repo = tmp_path / "leaky"
    repo.mkdir()
    (repo / "settings.txt").write_text(f"name = demo\ntoken = {token}\n")
    result = await verify_repo(repo, policy, level=BEST)
    assert [(f.check, f.message.split(" (")[0]) for f in result.findings] == [
        ("secrets", "settings.txt:2: github-pat GitHub personal access token")
    ]
    assert token not in str(result.to_json())


async def test_a_git_url_is_cloned_and_verified_like_a_local_path(policy: CommandPolicy, tmp_path: Path) -> None:
    origin = tmp_path / "origin"
    subprocess.run(["cp", "-r", str(SAMPLE), str(origin)], check=True)
    git = ["git", "-C", str(origin), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git[:3], "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "sample"], check=True)
    result = await verify_repo(f"file://{origin}#main", policy, level=BEST)
    assert [(f.check, f.severity.value, f.message) for f in result.findings] == EXPECTED


async def test_an_unknown_target_is_bad_input(policy: CommandPolicy) -> None:
    with pytest.raises(BadInput, match="neither a directory"):
        await verify_repo("not a repo at all", policy, level=BEST)


async def test_below_the_minimum_isolation_verification_is_blocked_with_the_fix(
    policy: CommandPolicy,
) -> None:
    strict = CommandPolicy(
        CommandsFile.model_validate({**policy.spec.model_dump(), "sandbox": {"min_isolation": "bwrap"}})
    )
    result = await verify_repo(SAMPLE, strict, level=IsolationLevel.RLIMITS)
    assert not result.passed and result.checks == []
    assert "apt-get install -y bubblewrap" in (result.requirements[0].fix or "")


async def test_by_default_a_repos_code_never_runs_with_resource_limits_only(policy: CommandPolicy) -> None:
    """At rlimits only the repo's tests could read the worker's environment through /proc."""
    result = await verify_repo(SAMPLE, policy, level=IsolationLevel.RLIMITS)
    assert not result.passed and result.checks == []
    assert [f.check for f in result.findings] == ["sandbox"]
    assert "bubblewrap" in result.findings[0].message


def test_the_clone_token_goes_only_to_the_configured_github_over_https() -> None:
    from bot.verify.repo import _token_may_go_to

    assert _token_may_go_to("https://github.com/acme/app.git", "https://github.com")
    assert not _token_may_go_to("https://evil.example/acme/app.git", "https://github.com")
    assert not _token_may_go_to("http://github.com/acme/app.git", "https://github.com")
    assert not _token_may_go_to("file:///tmp/x.git", "https://github.com")


async def test_a_hung_test_is_cut_off_at_the_per_test_limit_and_the_others_still_report(
    policy: CommandPolicy,
) -> None:
    result = await verify_repo(HOSTILE_REPOS / "sleepy", with_sandbox(policy, test_timeout_s=1), level=BEST)
    pytest_run = next(c for c in result.checks if c.name == "pytest")
    # The check ran to its end (not killed at the 300 s check timeout): test_quick's pass is counted.
    assert pytest_run.status == "failed" and pytest_run.exit_code == 1
    assert [f.message for f in pytest_run.findings] == [
        "tests/test_sleep.py:9: tests/test_sleep.py::test_sleeps_forever hung: cut off after 1 s (the per-test limit)"
    ]
    assert result.diagnosis is not None
    assert result.diagnosis.likely_cause == (
        "a failing test at tests/test_sleep.py:9: "
        "tests/test_sleep.py::test_sleeps_forever hung: cut off after 1 s (the per-test limit)"
    )


def test_the_shipped_per_test_limit_is_a_minute_at_most(policy: CommandPolicy) -> None:
    assert policy.spec.sandbox.test_timeout_s <= 60


# The attack pass's kind of bomb (its was 439 bytes): nine levels of nine aliases, 9**9 strings expanded.
ALIAS_BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
checks: [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


async def test_a_yaml_alias_bomb_in_pass_yml_is_refused_not_expanded(policy: CommandPolicy, tmp_path: Path) -> None:
    repo = tmp_path / "bomb"
    repo.mkdir()
    (repo / ".pass.yml").write_text(ALIAS_BOMB)
    result = await verify_repo(repo, policy, level=BEST)
    assert not result.passed
    assert [(c.name, c.status) for c in result.checks] == [("pass.yml", "failed"), ("secrets", "passed")]
    assert "expand to more than 10000 values (a YAML alias bomb?)" in result.findings[0].message


async def test_an_oversized_pass_yml_is_refused(policy: CommandPolicy, tmp_path: Path) -> None:
    repo = tmp_path / "big"
    repo.mkdir()
    (repo / ".pass.yml").write_text("checks: []\n" + "# padding\n" * 8000)
    result = await verify_repo(repo, policy, level=BEST)
    assert "larger than 64 KB" in result.findings[0].message


async def test_a_failed_clone_leaves_no_clone_directory(policy: CommandPolicy, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="could not clone"):
        await verify_repo(f"file://{tmp_path}/no-such-repo#main", policy, level=BEST, workspace_parent=tmp_path)
    assert list(tmp_path.glob("passbot-clone-*")) == []


async def test_a_check_the_worker_cannot_run_is_a_warning_finding(
    policy: CommandPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.verify.repo as repo_module
    from bot.verify.toolchain import detect_checks

    def without_bandit(root: Path, **kwargs: float) -> object:
        return detect_checks(root, available=lambda tool: tool != "bandit", **kwargs)

    monkeypatch.setattr(repo_module, "detect_checks", without_bandit)
    result = await verify_repo(SAMPLE, policy, level=BEST)
    warnings = [(f.check, f.message) for f in result.findings if f.severity.value == "warning"]
    assert warnings == [
        (
            "bandit",
            "security scan did not run: bandit is not installed on the worker; "
            "reinstall PASS (`pip install -e .` installs the whole check toolchain)",
        )
    ]
    assert {c.name: c.status for c in result.checks}["bandit"] == "unavailable"
    assert any(note.startswith("warning: security scan did not run") for note in result.notes)
