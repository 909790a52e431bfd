"""`passbot verify` as a user runs it, on the sample repo with one lint, type and test failure."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import REPO_ROOT, clean_env, passbot, stop_embedded_server

SAMPLE = REPO_ROOT / "tests" / "fixtures" / "sandbox" / "sample_repo"


def test_verify_names_exactly_the_three_problems_and_exits_3(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = clean_env(data)
    try:
        result = passbot("verify", str(SAMPLE), "--json", env=env, timeout=120)
        text = passbot("verify", str(SAMPLE), env=env, timeout=120)
    finally:
        stop_embedded_server(data)
    assert result.returncode == 3, result.stderr.decode()
    report = json.loads(result.stdout)
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    assert sorted(f["check"] for f in errors) == ["mypy", "pytest", "ruff"]
    out = text.stdout.decode()
    assert "src/sample/calc.py:1" in out and "F401" in out and "Likely cause" in out
    # The isolation the checks ran at, and each check's outcome, before the diagnosis.
    assert f"{SAMPLE}: sandbox {report['isolation']} (" in out
    assert "Checks:" in out and "✗ ruff" in out and "✗ mypy" in out and "✗ pytest" in out


def _path_without_bwrap(tmp_path: Path) -> str:
    """A PATH like a fresh pip-only machine's: no bwrap anywhere on it (the tools PASS calls are)."""
    import shutil
    import sys

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("git", "unshare", "true"):
        if found := shutil.which(tool):
            (bin_dir / tool).symlink_to(found)
    return f"{Path(sys.executable).parent}:{bin_dir}"


def test_verify_on_a_hostile_repo_with_pip_only_bwrap_blocks_every_escape(tmp_path: Path) -> None:
    """The issue's "done when": `passbot verify` with only the bundled bwrap, on a repo that attacks."""
    import shutil

    from attack import loot, stage

    policies = tmp_path / "policies"
    shutil.copytree(REPO_ROOT / "policies", policies)
    commands = policies / "commands.yml"
    commands.write_text(commands.read_text().replace("test_timeout_s: 60", "test_timeout_s: 3"))
    tokens = {"SLACK_BOT_TOKEN": "xoxb-333333333333-444444444444-clitokenclitoken", "GITHUB_TOKEN": "ghp_" + "c" * 36}
    with stage(tmp_path, with_redis=False) as attacked:
        env = clean_env(attacked.data_dir, PATH=_path_without_bwrap(tmp_path), PASS_POLICY_DIR=str(policies), **tokens)
        try:
            # Well under the 300 s check timeout although one test hangs: the per-test limit cuts it off.
            result = passbot("verify", str(attacked.repo), "--json", env=env, timeout=90)
        finally:
            stop_embedded_server(attacked.data_dir)
        assert attacked.connections == [] and attacked.landed() == []
    assert result.returncode == 3, result.stderr.decode()[-2000:]
    report = json.loads(result.stdout)
    assert report["sandbox"].startswith("bwrap, bundled bubblewrap 0.11"), report["sandbox"]
    messages = [f["message"] for f in report["findings"]]
    stolen = loot(messages)
    assert stolen["redis"] == "blocked ENOENT" and stolen["aof"] == "blocked ENOENT"
    assert stolen["env_tokens"] == [] and stolen["proc_tokens"] == "ok []"
    assert stolen["network"] == "blocked ECONNREFUSED" and stolen["pth"] == "blocked EROFS"
    assert not [t for t in tokens.values() if t in result.stdout.decode()]
    assert "src/hostile/util.py:1: F401 `os` imported but unused" in messages
    assert any("test_add_is_wrong_on_purpose failed" in m for m in messages)
    assert any("tests/test_hostile.py::test_sleeps_forever hung: cut off after 3 s" in m for m in messages)
    assert not [f for f in report["findings"] if f["severity"] == "warning"]  # every check ran
