"""Real `passbot serve` / `passbot worker` processes for the scale and fault tests."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from tests.helpers import REPO_ROOT

WORKER_WITH_SLOW_PLANNER = ["-m", "tests.scale.worker_main"]


def policy_dir(tmp: Path, **limits: Any) -> Path:
    """A copy of the shipped policies with some limits changed (short leases for tests)."""
    target = tmp / "policies"
    shutil.copytree(REPO_ROOT / "policies", target)
    current = yaml.safe_load((target / "limits.yml").read_text())
    (target / "limits.yml").write_text(yaml.safe_dump({**current, **limits}))
    return target


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, chars: int = 3000) -> str:
        return f"--- {self.name} ---\n{self.log.read_text(errors='replace')[-chars:]}"

    def events(self) -> list[dict[str, Any]]:
        """The process's JSON log lines."""
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        return self.popen.wait(timeout=20)


@dataclass
class Procs:
    """Every process a test started; all stopped (SIGKILL if need be) when the test ends."""

    tmp: Path
    env: dict[str, str]
    started: list[Proc] = field(default_factory=list)

    def start(self, name: str, args: list[str], **env: str) -> Proc:
        log = self.tmp / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [sys.executable, *args], env={**self.env, **env}, cwd=REPO_ROOT, stdout=out, stderr=out
            )
        proc = Proc(name, popen, log)
        self.started.append(proc)
        return proc

    def passbot(self, name: str, *args: str, **env: str) -> Proc:
        return self.start(name, ["-m", "bot", *args], **env)

    def logs(self) -> str:
        return "\n".join(p.tail() for p in self.started)

    async def until(self, check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 30) -> None:
        """Wait for something another process brings about. The deadline only turns a hang into a
        failure that shows the logs; it is not a speed check."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not await check():
            if loop.time() > deadline:
                raise AssertionError(f"{what} did not happen\n{self.logs()}")
            await asyncio.sleep(0.05)


@contextmanager
def processes(tmp: Path, env: dict[str, str]) -> Iterator[Procs]:
    procs = Procs(tmp, env)
    try:
        yield procs
    finally:
        for proc in procs.started:
            if proc.popen.poll() is None:
                proc.popen.kill()
                proc.popen.wait(timeout=10)


async def healthy(http: aiohttp.ClientSession, port: int) -> bool:
    try:
        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


def started(proc: Proc, event: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return any(e.get("event") == event for e in proc.events())

    return check
