"""Who is driving a run right now, and how many runs a workspace has in progress.

`RunLeases`: a worker driving a run holds `pass:lease:<run_id>` (value: the holder, e.g.
`host:pid/abc123`) with a TTL it refreshes on every heartbeat. A lease that lapses means its
worker stopped; crash recovery (bot/services/recovery.py) looks for runs without one.

`WorkspaceSlots`: a counting semaphore per workspace (`pass:slots:<workspace>`, a sorted set of run
ids scored by when their claim lapses), so `max_concurrent_runs_per_workspace` holds across every
worker on every host, and a dead worker's slot frees itself.

Each operation is one Lua script: check and write happen in one step on the server, and times
come from the server's clock, so hosts with skewed clocks agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.adapters.redis_store import PREFIX

_REFRESH = """
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
elseif not held then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

_NOW_MS = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)"

_SLOT_ACQUIRE = f"""
{_NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  return 1
end
return 0
"""

_SLOT_REFRESH = f"""
{_NOW_MS}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return 1
"""

_SLOT_COUNT = f"""
{_NOW_MS}
return redis.call('ZCOUNT', KEYS[1], now + 1, '+inf')
"""


def lease_key(run_id: str) -> str:
    return f"{PREFIX}:lease:{run_id}"


def _recovering_key(run_id: str) -> str:
    return f"{PREFIX}:recovering:{run_id}"


def slots_key(workspace: str) -> str:
    return f"{PREFIX}:slots:{workspace}"


def worker_name() -> str:
    """This process, as operators find it: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


class LeaseLost(Exception):
    """Another worker holds the lease now: this one must stop driving the run."""


class RunLease:
    """One worker's hold on one run. Create with `RunLeases.acquire`."""

    def __init__(self, client: aioredis.Redis, run_id: str, holder: str, ttl_s: float) -> None:
        self._r = client
        self.run_id = run_id
        self.holder = holder
        self._ttl_ms = max(1, int(ttl_s * 1000))

    async def refresh(self) -> None:
        """Extend the lease. A lease that lapsed (Redis was away longer than the TTL) is taken
        again if nobody else took it; if another worker holds it, `LeaseLost`."""
        kept = await self._r.eval(_REFRESH, 1, lease_key(self.run_id), self.holder, self._ttl_ms)  # type: ignore[misc]
        if not kept:
            raise LeaseLost(self.run_id)

    async def release(self) -> None:
        await self._r.eval(_RELEASE, 1, lease_key(self.run_id), self.holder)  # type: ignore[misc]


class RunLeases:
    def __init__(self, client: aioredis.Redis, *, ttl_s: float, worker: str | None = None) -> None:
        self._r = client
        self.ttl_s = ttl_s
        self.worker = worker or worker_name()

    async def acquire(self, run_id: str) -> RunLease | None:
        """The lease, or None while another worker holds it."""
        holder = f"{self.worker}/{uuid.uuid4().hex[:6]}"
        taken = await self._r.set(lease_key(run_id), holder, nx=True, px=max(1, int(self.ttl_s * 1000)))
        return RunLease(self._r, run_id, holder, self.ttl_s) if taken else None

    async def claim_recovery(self, run_id: str) -> bool:
        """Only one worker's recovery acts on a run at a time (they all scan)."""
        claimed = await self._r.set(_recovering_key(run_id), self.worker, nx=True, px=10_000)
        return bool(claimed)

    async def end_recovery(self, run_id: str) -> None:
        await self._r.delete(_recovering_key(run_id))

    async def holder(self, run_id: str) -> str | None:
        """Who drives the run now (None: nobody; a run in progress without one needs recovery)."""
        held: str | None = await self._r.get(lease_key(run_id))
        return held


class WorkspaceSlots:
    def __init__(self, client: aioredis.Redis, *, ttl_s: float) -> None:
        self._r = client
        self._ttl_ms = max(1, int(ttl_s * 1000))

    async def acquire(self, workspace: str, run_id: str, limit: int) -> bool:
        """Take one of the workspace's `limit` slots for `run_id` (True if it already has one)."""
        taken = await self._r.eval(_SLOT_ACQUIRE, 1, slots_key(workspace), run_id, limit, self._ttl_ms)  # type: ignore[misc]
        return bool(taken)

    async def refresh(self, workspace: str, run_id: str) -> None:
        await self._r.eval(_SLOT_REFRESH, 1, slots_key(workspace), run_id, self._ttl_ms)  # type: ignore[misc]

    async def release(self, workspace: str, run_id: str) -> None:
        await self._r.zrem(slots_key(workspace), run_id)

    async def in_use(self, workspace: str) -> int:
        count = await self._r.eval(_SLOT_COUNT, 1, slots_key(workspace))  # type: ignore[misc]
        return int(count)


@contextlib.asynccontextmanager
async def held(leases: RunLeases, run_id: str) -> AsyncIterator[RunLease | None]:
    """Hold the run's lease, refreshed in the background, for a run driven outside a worker (the
    CLI's foreground `plan` and `approve`), so crash recovery leaves it alone. None: someone else
    holds it."""
    lease = await leases.acquire(run_id)
    if lease is None:
        yield None
        return

    async def beat() -> None:
        while True:
            await asyncio.sleep(leases.ttl_s / 3)
            try:
                await lease.refresh()
            except LeaseLost:
                return
            except (RedisConnectionError, RedisTimeoutError, OSError):
                continue

    task = asyncio.create_task(beat())
    try:
        yield lease
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        with contextlib.suppress(RedisConnectionError, RedisTimeoutError, OSError):
            await lease.release()
