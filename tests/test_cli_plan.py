"""`passbot plan` as a new user runs it: a real process, the embedded Redis, no accounts."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import (
    PRDS,
    REAL_PRDS,
    REPO_ROOT,
    TEMPLATE_PRD,
    assert_run_contract,
    clean_env,
    passbot,
    stop_embedded_server,
)
from tests.speckit_assembly import speckit_spec

pytestmark = pytest.mark.slow


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "data"
    yield path
    stop_embedded_server(path)


@pytest.mark.parametrize("prd", REAL_PRDS, ids=lambda p: p.name)
def test_plan_json_follows_the_contract_and_covers_every_requirement(prd: Path, data_dir: Path) -> None:
    result = passbot("plan", str(prd), "--yes", "--json", env=clean_env(data_dir))
    assert result.returncode == 0, result.stderr.decode()
    run = json.loads(result.stdout)  # exactly one JSON object on stdout
    assert_run_contract(run)
    assert run["status"] == "synced" and run["planner"] == "heuristic"
    defined = {r["id"] for r in run["prd"]["requirements"]}
    covered = {rid for item in run["plan"]["items"] for rid in item["requirement_ids"]}
    assert defined and defined <= covered
    assert not [f for f in run["verification"]["findings"] if f["check"] == "secrets"]
    assert run["sync"]["dry_run"] is True
    staged = data_dir / "runs" / run["run_id"]
    assert json.loads((staged / "plan.json").read_text())["run_id"] == run["run_id"]
    assert run["plan"]["items"][0]["title"] in (staged / "backlog.md").read_text()
    _assert_a_plan_a_tech_lead_accepts(run)


def _assert_a_plan_a_tech_lead_accepts(run: dict[str, Any]) -> None:
    items = run["plan"]["items"]
    shape = run["verification"]["shape"]
    assert shape["critical_path_length"] == len(shape["critical_path"]) <= max(1, len(items) // 2)
    assert 1 <= shape["parallel_width"] <= len(items) <= 60
    for item in items:
        assert sorted(item["dependency_reasons"]) == sorted(item["depends_on"])
        assert all(f"Blocked by {dep}: {why}" in item["body"] for dep, why in item["dependency_reasons"].items())
    criteria = {r["id"] for r in run["prd"]["requirements"] if r["id"].startswith("SC-")}
    assert not [i for i in items if len(i["requirement_ids"]) == 1 and i["requirement_ids"][0] in criteria]
    checks = {f["check"] for f in run["verification"]["findings"]}
    assert not checks & {"backlog_size", "unjustified_dependency", "redundant_dependency", "dependency_chain"}


def test_a_spec_with_more_ids_than_the_item_limit_is_planned_not_blocked(tmp_path: Path, data_dir: Path) -> None:
    spec = tmp_path / "spec.md"
    spec.write_text(speckit_spec())
    result = passbot("plan", str(spec), "--yes", "--json", env=clean_env(data_dir))
    assert result.returncode == 0, result.stderr.decode()
    run = json.loads(result.stdout)
    assert_run_contract(run)
    assert len(run["prd"]["requirements"]) > 60
    covered = {rid for item in run["plan"]["items"] for rid in item["requirement_ids"]}
    assert {r["id"] for r in run["prd"]["requirements"]} <= covered
    _assert_a_plan_a_tech_lead_accepts(run)


def test_template_exits_3_with_a_no_content_finding(data_dir: Path) -> None:
    result = passbot("plan", str(TEMPLATE_PRD), "--json", env=clean_env(data_dir))
    assert result.returncode == 3
    run = json.loads(result.stdout)
    assert_run_contract(run)
    assert run["status"] == "blocked" and run["plan"]["items"] == []
    assert any(f["check"] == "prd_content" and "template" in f["message"] for f in run["verification"]["findings"])


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "empty"), (b"\x00\x01\x02binary", "binary"), (b"# x\n" + b"a " * 150_000, "limit")],
)
def test_bad_input_exits_2_with_one_line_on_stderr(content: bytes, reason: str, tmp_path: Path, data_dir: Path) -> None:
    prd = tmp_path / "prd.md"
    prd.write_bytes(content)
    result = passbot("plan", str(prd), "--json", env=clean_env(data_dir))
    assert result.returncode == 2
    assert result.stdout == b""
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and reason in lines[0]


def test_missing_file_is_bad_input(data_dir: Path) -> None:
    result = passbot("plan", "/nonexistent/prd.md", env=clean_env(data_dir))
    assert result.returncode == 2 and "cannot read" in result.stderr.decode()


def test_without_yes_and_without_a_terminal_the_plan_stays_staged(data_dir: Path) -> None:
    env = clean_env(data_dir)
    result = passbot("plan", str(REAL_PRDS[0]), env=env)
    assert result.returncode == 0
    out = result.stdout.decode()
    assert "Not approved" in out and "passbot approve" in out
    run_id = out.split("passbot approve ")[1].split()[0]
    # A second process finds the first one's run in the persistent embedded Redis.
    status = passbot("status", run_id, "--json", env=env)
    assert json.loads(status.stdout)["status"] == "awaiting_approval"
    refused = passbot("approve", run_id, env=env)
    assert refused.returncode == 1 and "--yes" in refused.stderr.decode()
    approved = passbot("approve", run_id, "--yes", env=env)
    assert approved.returncode == 0, approved.stderr.decode()
    assert json.loads(passbot("status", run_id, "--json", env=env).stdout)["status"] == "synced"
    audit = passbot("audit", "verify", env=env)
    assert audit.returncode == 0 and "whole" in audit.stdout.decode()
    exported = [json.loads(line) for line in passbot("audit", "export", "--run", run_id, env=env).stdout.splitlines()]
    assert [e["action"] for e in exported][:2] == ["run.requested", "requirements.checking"]
    assert any(e["action"] == "approval.recorded" and e["detail"]["via"] == "cli --yes" for e in exported)


def test_a_crash_mid_run_leaves_a_run_that_says_where_it_stopped(data_dir: Path) -> None:
    crash = textwrap.dedent(
        f"""
        import asyncio, os, sys
        sys.path.insert(0, {str(REPO_ROOT)!r})
        from bot.bootstrap import build
        from bot.domain.models import Source
        from bot.settings import Settings

        class DyingPlanner:
            name = "heuristic"
            async def plan(self, prd, context):
                print(context.run_id, flush=True)
                os._exit(137)  # the process is killed mid-plan: no cleanup, no finally

        async def main():
            c = build(Settings())
            c.runs.planner = DyingPlanner()
            run, _ = await c.runs.submit(b"# App\\n## Features\\n- add todos to the list\\n- delete todos",
                                         source=Source.CLI, requester="me")
            await c.runs.execute(run.run_id)

        asyncio.run(main())
        """
    )
    import subprocess

    env = clean_env(data_dir)
    died = subprocess.run([sys.executable, "-c", crash], env=env, capture_output=True, timeout=60)
    assert died.returncode == 137
    run_id = died.stdout.decode().strip()
    shown = passbot("status", run_id, env=env)
    out = shown.stdout.decode()
    assert shown.returncode == 0
    assert "status: planning" in out and "Stopped in 'planning'" in out


def test_doctor_names_each_missing_part_with_its_fix(data_dir: Path) -> None:
    result = passbot("doctor", env=clean_env(data_dir))
    out = result.stdout.decode()
    assert result.returncode == 0, out
    assert "ok       redis" in out
    assert "GITHUB_TOKEN not set" in out and "OPENAI_API_KEY not set" in out
    broken = passbot("doctor", env=clean_env(data_dir, REDIS_URL="redis://127.0.0.1:1/0"))
    assert broken.returncode == 1 and "MISSING  redis" in broken.stdout.decode()


def test_at_a_terminal_plan_asks_before_it_syncs(data_dir: Path) -> None:
    """The stop-line at the terminal: a real pseudo-terminal, the prompt read, `y` typed."""
    import os
    import pty
    import select

    env = clean_env(data_dir)
    pid, fd = pty.fork()
    if pid == 0:  # the child: passbot with the pty as its controlling terminal
        os.chdir(REPO_ROOT)
        os.execve(sys.executable, [sys.executable, "-m", "bot", "plan", str(REAL_PRDS[0])], env)
    seen = b""

    def read_until(marker: bytes, timeout: float = 30) -> None:
        nonlocal seen
        import time

        deadline = time.monotonic() + timeout
        while marker not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(fd, 4096)
                except OSError:
                    return

    read_until(b"[y/N]")
    assert b"Approve run" in seen
    os.write(fd, b"y\n")
    read_until(b"The backlog is in")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, seen.decode(errors="replace")
    assert b"status: synced" in seen


def test_status_piped_into_a_reader_that_stops_early_prints_no_traceback(data_dir: Path) -> None:
    """`passbot status | head`: the reader is gone before PASS writes; PASS stops quietly."""
    import os
    import subprocess

    env = clean_env(data_dir)
    assert passbot("plan", str(PRDS / "02_taskmaster_test_prd_tiny.md"), env=env).returncode == 0
    read_end, write_end = os.pipe()
    os.close(read_end)  # what `head` does once it has its lines
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bot", "status"], env=env, cwd=REPO_ROOT, stdout=write_end, stderr=subprocess.PIPE
        )
    finally:
        os.close(write_end)
    err = done.stderr.decode()
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert done.returncode == 1


def test_doctor_fails_when_a_part_the_deployment_means_to_use_is_missing_and_speaks_json(data_dir: Path) -> None:
    fine = passbot("doctor", "--json", env=clean_env(data_dir))
    report = json.loads(fine.stdout)
    assert fine.returncode == 0 and report["ok"] is True and report["missing_required"] == []
    assert {c["name"] for c in report["checks"]} >= {"redis", "policies", "github", "llm", "sandbox"}

    # A bot token without a way to receive Slack's requests: Slack was meant to work, and cannot.
    half = passbot("doctor", env=clean_env(data_dir, SLACK_BOT_TOKEN="xoxb-1-2-abc"))
    out = half.stdout.decode()
    assert half.returncode == 1, out
    assert "MISSING  slack transport" in out and "1 required part(s) missing: slack transport" in out

    asked = passbot("doctor", "--require", "llm", "--json", env=clean_env(data_dir))
    assert asked.returncode == 1 and json.loads(asked.stdout)["missing_required"] == ["llm"]


def test_plan_and_status_list_the_requirements_found_and_the_sandbox(data_dir: Path) -> None:
    env = clean_env(data_dir)
    planned = passbot("plan", str(PRDS / "02_taskmaster_test_prd_tiny.md"), env=env).stdout.decode()
    run_id = planned.split()[2]
    for out in (planned, passbot("status", run_id, env=env).stdout.decode()):
        assert "requirements found in the PRD: 3" in out
        assert "  R0.1  Add new todos" in out and "  R0.3  Delete todos" in out
        assert "sandbox: " in out
