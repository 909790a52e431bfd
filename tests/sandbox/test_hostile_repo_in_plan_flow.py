"""The attack of issue #16 through the plan flow: anyone types `/pass plan … repo=evil/hostile`, a
real `passbot worker` clones the repo and runs its checks before staging, beside PASS's embedded
Redis (its unix socket and AOF under PASS_DATA_DIR, where the repo aims). The repo's tests reach
nothing: not the socket, not the AOF, not the network, no file outside the workspace; another
user's staged run stays staged and the audit log still matches every run."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from attack import AOF_MARKER, loot, stage

from bot.adapters.approval_key import load_approval_key
from bot.adapters.queue import SaqJobQueue
from bot.adapters.redis_server import connect
from bot.adapters.redis_store import RedisRunStore
from bot.domain.models import Run, Source
from bot.domain.status import RunStatus
from bot.planner.heuristic import HeuristicPlanner
from bot.policies import Policies
from bot.services.dry_run import DryRunSyncer
from bot.services.runs import RunService
from bot.settings import Settings
from tests.helpers import PRDS, REPO_ROOT, clean_env, passbot_async
from tests.scale.procs import processes

pytestmark = pytest.mark.slow

TINY = (PRDS / "02_taskmaster_test_prd_tiny.md").read_text()
DONE = {RunStatus.AWAITING_APPROVAL, RunStatus.BLOCKED, RunStatus.FAILED}


def _as_remote(repo: Path, base: Path) -> None:
    """The hostile repo as `evil/hostile` on a git host at `base` (what GITHUB_API_URL points at)."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.test", "-c", "init.defaultBranch=main"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "hostile"]):
        subprocess.run([*git, *args], cwd=repo, check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(base / "evil" / "hostile.git")], check=True)


def _policies(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(REPO_ROOT / "policies", target)
    commands = target / "commands.yml"
    commands.write_text(commands.read_text().replace("test_timeout_s: 60", "test_timeout_s: 3"))
    return target


async def test_a_hostile_repo_named_in_a_plan_reaches_nothing_of_pass(tmp_path: Path) -> None:
    with stage(tmp_path, with_redis=False) as attacked:
        base = tmp_path / "git"
        _as_remote(attacked.repo, base)
        env = clean_env(
            attacked.data_dir, GITHUB_API_URL=f"file://{base}/api/v3", PASS_POLICY_DIR=str(_policies(tmp_path))
        )
        # The embedded Redis the worker shares: started here, on the socket the repo aims at.
        settings = Settings(_env_file=None, PASS_DATA_DIR=attacked.data_dir)  # type: ignore[call-arg]
        handle = connect(None, attacked.data_dir)
        store = RedisRunStore(handle.client)
        queue = SaqJobQueue.on(handle.client)
        await queue.connect()
        try:
            await handle.client.set("run:secret", AOF_MARKER)
            runs = RunService(
                store,
                HeuristicPlanner(),
                DryRunSyncer(tmp_path / "unused", reason="test"),
                Policies(),
                approval_key=load_approval_key(settings),
            )
            victim, _ = await runs.submit(TINY, source=Source.SLACK, requester="UALICE", channel="C1")
            victim = await runs.execute(victim.run_id)
            assert victim.status is RunStatus.AWAITING_APPROVAL
            hostile, _ = await runs.submit(
                TINY, source=Source.SLACK, requester="UMALLORY", channel="C1", repo="evil/hostile"
            )
            await queue.enqueue_execute(hostile.run_id)
            with processes(tmp_path, env) as procs:
                procs.passbot("worker", "worker")

                async def staged() -> bool:
                    return (await store.get(hostile.run_id)).status in DONE

                await procs.until(staged, "the worker planning the run and checking its repo", timeout_s=120)
            run: Run = await store.get(hostile.run_id)
            assert run.verification is not None
            messages = [f.message for f in run.verification.findings]
            stolen = loot(messages)
            assert stolen["redis"] == "blocked ENOENT" and stolen["aof"] == "blocked ENOENT", stolen
            assert stolen["network"] == "blocked ECONNREFUSED" and stolen["pth"] == "blocked EROFS", stolen
            assert stolen["env_tokens"] == [] and stolen["proc_tokens"] == "ok []", stolen
            assert not await handle.client.exists("pwned!"), "nothing was written to PASS's Redis"
            assert attacked.connections == [] and attacked.landed() == []
            assert any("test_sleeps_forever hung" in m for m in messages), messages
            assert (await store.get(victim.run_id)).status is RunStatus.AWAITING_APPROVAL
            code, out, _ = await passbot_async("audit", "verify", env=env)
            assert code == 0, out
        finally:
            await queue.close()
            await handle.close()
