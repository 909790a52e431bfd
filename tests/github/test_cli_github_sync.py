"""`passbot plan --yes` with GITHUB_TOKEN set writes real issues (to a local GitHub) once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from fake_github_api import FakeGitHub
from github_sync_fakes import REPO, TOKEN

from tests.helpers import PRDS, REPO_ROOT, assert_run_contract, clean_env, passbot_async, stop_embedded_server


async def test_an_approved_cli_run_creates_each_issue_once(github: FakeGitHub, tmp_path: Path) -> None:
    github.add_repo(REPO, private=True)
    policies = tmp_path / "policies"
    shutil.copytree(REPO_ROOT / "policies", policies)
    (policies / "limits.yml").write_text("github_write_interval_s: 0\n")
    data = tmp_path / "data"
    env = clean_env(data, GITHUB_TOKEN=TOKEN, GITHUB_API_URL=github.base_url, PASS_POLICY_DIR=str(policies))
    try:
        code, out, err = await passbot_async(
            "plan", str(PRDS / "02_taskmaster_test_prd_tiny.md"), "--repo", REPO, "--yes", "--json", env=env
        )
        _, exported, _ = await passbot_async("audit", "export", env=env)
    finally:
        stop_embedded_server(data)
    assert code == 0, err.decode()
    run = json.loads(out)
    assert_run_contract(run)
    assert run["status"] == "synced" and run["sync"]["dry_run"] is False and run["sync"]["target"] == REPO
    numbers = [i["number"] for i in run["sync"]["issues"]]
    assert all(isinstance(n, int) for n in numbers) and len(set(numbers)) == 3
    titles = [i["title"] for i in github.repos[REPO].issues]
    for item in run["plan"]["items"]:
        assert titles.count(item["title"]) == 1
    assert TOKEN not in err.decode()
    created = [json.loads(line)["detail"] for line in exported.splitlines() if b'"issue.created"' in line]
    assert sorted(c["number"] for c in created if c["key"] != "_tracking") == sorted(numbers)
    assert TOKEN not in exported.decode()


async def test_a_missing_repo_on_github_blocks_with_the_fix(github: FakeGitHub, tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = clean_env(data, GITHUB_TOKEN=TOKEN, GITHUB_API_URL=github.base_url)
    try:
        code, out, _ = await passbot_async(
            "plan", str(PRDS / "02_taskmaster_test_prd_tiny.md"), "--repo", "acme/missing", "--json", env=env
        )
    finally:
        stop_embedded_server(data)
    run = json.loads(out)
    assert code == 3 and run["status"] == "blocked"
    missing = [r for r in run["requirements"] if not r["ok"]]
    assert missing and all(r["fix"] for r in missing)
    assert not github.writes()


async def test_the_same_prd_approved_again_creates_nothing_unless_the_operator_asks_to_update(
    github: FakeGitHub, tmp_path: Path
) -> None:
    github.add_repo(REPO, private=True)
    policies = tmp_path / "policies"
    shutil.copytree(REPO_ROOT / "policies", policies)
    (policies / "limits.yml").write_text("github_write_interval_s: 0\n")
    data = tmp_path / "data"
    env = clean_env(data, GITHUB_TOKEN=TOKEN, GITHUB_API_URL=github.base_url, PASS_POLICY_DIR=str(policies))
    prd = str(PRDS / "02_taskmaster_test_prd_tiny.md")
    try:
        code, out, err = await passbot_async("plan", prd, "--repo", REPO, "--yes", "--json", env=env)
        assert code == 0, err.decode()
        first = json.loads(out)
        issues_after_first = len(github.repos[REPO].issues)
        writes_after_first = len(github.writes())

        code, again, err = await passbot_async("plan", prd, "--repo", REPO, "--yes", env=env)
        assert code == 0, err.decode()
        assert len(github.repos[REPO].issues) == issues_after_first, "a second approval created issues again"
        assert len(github.writes()) == writes_after_first, "nothing at all is written to GitHub"
        text = again.decode()
        assert f"This PRD was already synced to {REPO} as #1–#{issues_after_first} by run {first['run_id']}." in text
        assert "Nothing was written" in text

        github.repos[REPO].issues[0]["title"] = "edited by hand"
        code, updated, err = await passbot_async("plan", prd, "--repo", REPO, "--yes", "--update", "--json", env=env)
    finally:
        stop_embedded_server(data)
    assert code == 0, err.decode()
    assert len(github.repos[REPO].issues) == issues_after_first, "--update rewrites, it does not create"
    assert github.repos[REPO].issues[0]["title"] != "edited by hand"
    run = json.loads(updated)
    assert [i["number"] for i in run["sync"]["issues"]] == [i["number"] for i in first["sync"]["issues"]]
    assert [r.method for r in github.writes()[writes_after_first:]] == ["PATCH"] * issues_after_first
