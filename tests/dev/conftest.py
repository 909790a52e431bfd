"""`passbot dev` in this process: the stand-in, the real Bolt app, an in-process worker and an
embedded redis-server of its own, all on loopback. Tests act through the page's own JSON routes,
as the page does, and read each person's view of the workspace back from /dev/state."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.entrypoints.dev.identities import ALICE
from bot.entrypoints.dev.runner import DevStack
from bot.settings import Settings
from tests.helpers import PRDS, REPO_ROOT, clean_env, stop_embedded_server

TINY_PRD = (PRDS / "02_taskmaster_test_prd_tiny.md").read_text()

State = dict[str, Any]


VERIFIED_REPO = "acme/app"


def git_host(root: Path) -> str:
    """A GitHub stand-in for `git clone`: `acme/app` as a bare repo under `root`, one small module
    inside. Returns the GITHUB_API_URL whose git host it is (`<host>/api/v3` -> `<host>`)."""
    work = root / "work"
    work.mkdir(parents=True)
    (work / "app.py").write_text("def add(a: int, b: int) -> int:\n    return a + b\n")
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "app"], check=True)
    bare = root / f"{VERIFIED_REPO}.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    return f"file://{root}/api/v3"


def dev_settings(data_dir: Path) -> Settings:
    """A new user's settings: no Slack, GitHub, OpenAI or Redis configured."""
    return Settings(
        data_dir=data_dir,
        policy_dir=REPO_ROOT / "policies",
        slack_bot_token=None,
        slack_signing_secret=None,
        github_token=None,
        openai_api_key=None,
        redis_url=None,
    )


def card(state: State) -> State | None:
    """PASS's run card: its first top-level message."""
    for message in state["messages"]:
        if message["user"] == state["bot"]["id"] and not message["thread_ts"] and not message["ephemeral"]:
            return dict(message)
    return None


def shown(message: State | None) -> str:
    """Everything a person reads on a message, as one string."""
    if message is None:
        return ""
    return message["text"] + json.dumps(message["blocks"], ensure_ascii=False)


def ephemerals(state: State) -> list[str]:
    return [shown(m) for m in state["messages"] if m["ephemeral"]]


@dataclass
class Page:
    """What the page does, over HTTP."""

    url: str
    http: aiohttp.ClientSession
    stack: DevStack

    async def state(self, user: str = ALICE.id, after: int = -1) -> State:
        async with self.http.get(f"{self.url}dev/state", params={"user": user, "after": str(after)}) as r:
            assert r.status == 200, await r.text()
            data: State = await r.json()
            return data

    async def act(self, path: str, user: str, **body: Any) -> tuple[int, Any]:
        async with self.http.post(f"{self.url}dev/{path}", json={"user": user, **body}) as r:
            text = await r.text()
            return r.status, json.loads(text) if r.content_type == "application/json" else text

    async def send(self, text: str, user: str = ALICE.id, thread_ts: str | None = None) -> None:
        status, body = await self.act("send", user, text=text, thread_ts=thread_ts)
        assert status == 200, body

    async def click(self, ts: str, action_id: str, user: str) -> None:
        status, body = await self.act("click", user, ts=ts, action_id=action_id)
        assert status == 200, body

    async def until(self, check: Callable[[State], bool], what: str, user: str = ALICE.id) -> State:
        """Long-polls the person's view until `check` holds. The deadline only turns a hang into a
        failure that shows what the person last saw; it is not a timing assertion."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        state = await self.state(user)
        while not check(state):
            if loop.time() > deadline:
                raise AssertionError(f"{what} did not happen; last seen:\n{json.dumps(state, indent=1)[-4000:]}")
            state = await self.state(user, after=state["version"])
        return state


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[Page]:
    settings = dev_settings(tmp_path / "data").model_copy(update={"github_api_url": git_host(tmp_path / "git")})
    stack = await DevStack.start(settings, port=0)
    http = aiohttp.ClientSession()
    try:
        yield Page(stack.url, http, stack)
    finally:
        await http.close()
        await stack.close()


@dataclass
class DevProcess:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        finally:
            assert self.proc.stdout is not None
            self.proc.stdout.close()


URL_LINE = re.compile(rb"^passbot dev: open (http://127\.0\.0\.1:\d+/) ")


async def start_dev_process(data_dir: Path, log: Path, **env: str) -> DevProcess:
    """`passbot dev --port 0` as a new user runs it; the URL is read from the one line it prints."""
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "dev", "--port", "0"],
            env=clean_env(data_dir, **env),
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=err,
        )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 30)
    except TimeoutError:
        line = b""
    found = URL_LINE.match(line)
    if found is None:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        raise AssertionError(f"passbot dev printed {line!r}; log:\n{log.read_text()[-3000:]}")
    return DevProcess(proc, found.group(1).decode(), log)


@pytest.fixture
async def dev_process(tmp_path: Path) -> AsyncIterator[DevProcess]:
    process = await start_dev_process(
        tmp_path / "data", tmp_path / "dev.log", GITHUB_API_URL=git_host(tmp_path / "git")
    )
    try:
        yield process
    finally:
        process.stop()
        stop_embedded_server(tmp_path / "data" / "dev")
