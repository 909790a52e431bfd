"""Runs, dedupe keys and the audit stream in Redis.

Every state change is one optimistic transaction (WATCH/MULTI): the run is compared with the
state the caller expects, written, and its audit event appended to the hash-chained stream in
the same EXEC. Two workers racing on one run: exactly one wins, the other gets
`TransitionConflict`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.exceptions import WatchError

from bot.domain.audit import GENESIS, AuditEvent, check_chain
from bot.domain.models import Actor, Run, utcnow
from bot.domain.status import RunStatus
from bot.errors import RunNotFound, StoreUnavailable, TransitionConflict

PREFIX = "pass"
AUDIT_STREAM = f"{PREFIX}:audit"
AUDIT_HEAD = f"{PREFIX}:audit:head"
RUN_INDEX = f"{PREFIX}:runs"
# Runs not yet in an end state, by creation time: what crash recovery has to look at.
ACTIVE_INDEX = f"{PREFIX}:runs:active"
# Runs that ended, by when they ended (what the Slack card catch-up looks at beside the active ones).
ENDED_INDEX = f"{PREFIX}:runs:ended"
ENDED_KEPT = timedelta(days=1)


def run_key(run_id: str) -> str:
    return f"{PREFIX}:run:{run_id}"


def run_events_key(run_id: str) -> str:
    """Each run's own copy of its audit events, written in the same transaction as the chained
    stream: the sync checks a run's approval in these instead of reading the whole stream, and
    `audit verify` checks each copy against the chain."""
    return f"{PREFIX}:audit:run:{run_id}"


def synced_prd_key(prd_sha256: str, repo: str) -> str:
    """Which run last synced a PRD (by sha256) to a repo: one key per pair, so a re-run of the
    same PRD is found in one read however many runs there are."""
    # GitHub repo names are case-insensitive.
    repo_id = hashlib.sha256(repo.lower().encode()).hexdigest()[:16]
    return f"{PREFIX}:synced_prd:{prd_sha256}:{repo_id}"


def dedupe_key(key: str) -> str:
    return f"{PREFIX}:dedupe:{hashlib.sha256(key.encode()).hexdigest()}"


Mutation = Callable[[Run], Run]
# Commands queued inside MULTI, beside the audit event.
Writes = Callable[[Pipeline], Any]


class RedisRunStore:
    def __init__(self, client: aioredis.Redis, *, dedupe_ttl_s: int = 7 * 24 * 3600) -> None:
        self._r = client
        self._dedupe_ttl = dedupe_ttl_s
        # Every commit watches the one audit head, so two commits in flight from this process
        # always collide and one redoes its work (measured: 16 concurrent submits, ~8 redos per
        # event). Taking turns here leaves only the collisions between processes.
        self._turn = asyncio.Lock()
        # Commits redone because another process moved the audit head first (logged at shutdown).
        self.redone = 0

    @property
    def client(self) -> aioredis.Redis:
        return self._r

    async def ping(self) -> bool:
        try:
            return bool(await self._r.ping())  # type: ignore[misc]
        except (RedisConnectionError, RedisTimeoutError, OSError):
            return False

    async def create(
        self,
        run: Run,
        *,
        actor: Actor,
        actor_id: str,
        dedupe: str | tuple[str, ...] | None = None,
        detail: dict[str, Any] | None = None,
    ) -> tuple[Run, bool]:
        """Store a new run. With a dedupe key already used, return that run instead (created=False).

        Several keys (a webhook's signature and its Idempotency-Key) name one request: the first
        one already used wins, and the keys claimed before it are pointed at that run too."""
        keys = (dedupe,) if isinstance(dedupe, str) else tuple(dedupe or ())
        try:
            claimed: list[str] = []
            for key in keys:
                existing = await self._claim(key, run.run_id)
                if existing is not None:
                    for earlier in claimed:
                        await self._r.set(dedupe_key(earlier), existing.run_id, ex=self._dedupe_ttl)
                    return existing, False
                claimed.append(key)
            event = AuditEvent(
                at=run.created_at,
                run_id=run.run_id,
                actor=actor,
                actor_id=actor_id,
                action="run.requested",
                status=run.status.value,
                detail={"source": run.source.value, "requester": run.requester, **(detail or {})},
            )
            await self._insert(run, event)
            return run, True
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(f"Redis did not answer: {type(exc).__name__}") from exc

    async def _claim(self, key: str, run_id: str) -> Run | None:
        """Claim `key` for `run_id`; the run that holds it already, if there is one."""
        if await self._r.set(dedupe_key(key), run_id, nx=True, ex=self._dedupe_ttl):
            return None
        existing_id = await self._r.get(dedupe_key(key))
        if existing_id:
            existing = await self.find(existing_id)
            if existing is not None:
                return existing
        # The first claimant died before storing its run: take the key over.
        await self._r.set(dedupe_key(key), run_id, ex=self._dedupe_ttl)
        return None

    async def find(self, run_id: str) -> Run | None:
        try:
            raw = await self._r.get(run_key(run_id))
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(f"Redis did not answer: {type(exc).__name__}") from exc
        return Run.model_validate_json(raw) if raw else None

    async def get(self, run_id: str) -> Run:
        run = await self.find(run_id)
        if run is None:
            raise RunNotFound(run_id)
        return run

    async def list_runs(self, *, limit: int = 50, since: datetime | None = None) -> list[Run]:
        """Newest first."""
        low = since.timestamp() if since else "-inf"
        with _store_errors():
            ids = await self._r.zrevrangebyscore(RUN_INDEX, "+inf", low, start=0, num=limit)
            if not ids:
                return []
            raws = await self._r.mget([run_key(i) for i in ids])
        return [Run.model_validate_json(raw) for raw in raws if raw]

    async def ended_since(self, since: datetime) -> list[Run]:
        """Runs that ended at or after `since`, oldest first (older entries are dropped as we go)."""
        with _store_errors():
            await self._r.zremrangebyscore(ENDED_INDEX, "-inf", f"({(since - ENDED_KEPT).timestamp()}")
            ids = await self._r.zrangebyscore(ENDED_INDEX, since.timestamp(), "+inf")
            if not ids:
                return []
            raws = await self._r.mget([run_key(i) for i in ids])
        return [Run.model_validate_json(raw) for raw in raws if raw]

    async def active_runs(self, *, limit: int = 10_000) -> list[Run]:
        """Runs not in an end state (queued, in progress, awaiting approval …), oldest first."""
        with _store_errors():
            ids = await self._r.zrange(ACTIVE_INDEX, 0, limit - 1)
            if not ids:
                return []
            raws = await self._r.mget([run_key(i) for i in ids])
        return [Run.model_validate_json(raw) for raw in raws if raw]

    async def remember_synced_prd(self, prd_sha256: str, repo: str, run_id: str) -> None:
        await self._r.set(synced_prd_key(prd_sha256, repo), run_id)

    async def last_synced_run(self, prd_sha256: str, repo: str) -> str | None:
        value = await self._r.get(synced_prd_key(prd_sha256, repo))
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def transition(
        self,
        run_id: str,
        expected: RunStatus | set[RunStatus],
        target: RunStatus | Callable[[Run], RunStatus | None] | None,
        *,
        actor: Actor,
        actor_id: str,
        action: str,
        mutate: Mutation | None = None,
        reason: str = "",
        detail: dict[str, Any] | None = None,
    ) -> Run:
        """Compare-and-set: only if the run is in `expected`, apply `mutate` and move to `target`.

        `target=None` updates the run without changing its status (still checked and audited);
        a callable target decides from the freshly read (and mutated) run, inside the transaction.
        """
        allowed = {expected} if isinstance(expected, RunStatus) else set(expected)
        key = run_key(run_id)
        result: list[Run] = []

        async def prepare(pipe: Pipeline) -> tuple[AuditEvent, Writes]:
            raw = await pipe.get(key)
            if raw is None:
                raise RunNotFound(run_id)
            run = Run.model_validate_json(raw)
            if run.status not in allowed:
                raise TransitionConflict(run_id, "|".join(sorted(s.value for s in allowed)), run.status.value)
            now = utcnow()
            updated = mutate(run) if mutate else run
            goal = target(updated) if callable(target) else target
            if goal is not None:
                updated = updated.moved(goal, at=now, actor=actor, reason=reason)
            else:
                updated = updated.model_copy(update={"updated_at": now})
            result[:] = [updated]
            event = AuditEvent(
                at=now,
                run_id=run_id,
                actor=actor,
                actor_id=actor_id,
                action=action,
                status=updated.status.value,
                reason=reason,
                detail=detail or {},
            )

            def writes(p: Pipeline) -> None:
                p.set(key, updated.model_dump_json())
                if updated.status.is_terminal:
                    p.zrem(ACTIVE_INDEX, run_id)
                    p.zadd(ENDED_INDEX, {run_id: updated.updated_at.timestamp()})
                else:
                    p.zadd(ACTIVE_INDEX, {run_id: updated.created_at.timestamp()})

            return event, writes

        await self._commit((key,), prepare)
        return result[0]

    async def record(
        self,
        run_id: str | None,
        *,
        actor: Actor,
        actor_id: str,
        action: str,
        detail: dict[str, Any] | None = None,
        reason: str = "",
    ) -> AuditEvent:
        """An audit event that changes no run (an LLM call, a blocked command, a refused click)."""
        event = AuditEvent(
            at=utcnow(),
            run_id=run_id,
            actor=actor,
            actor_id=actor_id,
            action=action,
            reason=reason,
            detail=detail or {},
        )

        async def prepare(pipe: Pipeline) -> tuple[AuditEvent, Writes]:
            return event, lambda p: None

        return await self._commit((), prepare)

    async def audit_events(self, *, run_id: str | None = None) -> list[tuple[str, AuditEvent]]:
        """Every audit event in order, with its stream id (optionally only one run's)."""
        out: list[tuple[str, AuditEvent]] = []
        for stream_id, raw in await self.audit_entries():
            event = AuditEvent.model_validate_json(raw)
            if run_id is None or event.run_id == run_id:
                out.append((stream_id, event))
        return out

    async def run_events(self, run_id: str) -> list[AuditEvent]:
        """One run's audit events, oldest first (from its own copy; runs from before that copy
        existed are read from the stream)."""
        with _store_errors():
            raws: list[str] = await self._r.lrange(run_events_key(run_id), 0, -1)  # type: ignore[misc]
        if raws:
            return [AuditEvent.model_validate_json(raw) for raw in raws]
        return [event for _, event in await self.audit_events(run_id=run_id)]

    async def audit_entries(self) -> list[tuple[str, str]]:
        """Every stored audit event as written (stream id, JSON), unparsed: `check_chain` must
        also see entries that no longer parse."""
        out: list[tuple[str, str]] = []
        last = "-"
        with _store_errors():
            while True:
                batch = await self._r.xrange(AUDIT_STREAM, min=last, max="+", count=1000)
                if last != "-" and batch and batch[0][0] == last:
                    batch = batch[1:]
                if not batch:
                    return out
                out.extend((stream_id, fields.get("event", "")) for stream_id, fields in batch)
                last = batch[-1][0]

    async def audit_head(self) -> str | None:
        """The hash of the newest event, as recorded with it (None before the first event)."""
        with _store_errors():
            head: str | None = await self._r.get(AUDIT_HEAD)
        return head

    async def _insert(self, run: Run, event: AuditEvent) -> None:
        key = run_key(run.run_id)

        def writes(pipe: Pipeline) -> None:
            pipe.set(key, run.model_dump_json())
            pipe.zadd(RUN_INDEX, {run.run_id: run.created_at.timestamp()})
            if not run.status.is_terminal:
                pipe.zadd(ACTIVE_INDEX, {run.run_id: run.created_at.timestamp()})

        async def prepare(pipe: Pipeline) -> tuple[AuditEvent, Writes]:
            return event, writes

        await self._commit((), prepare)

    async def _commit(
        self, watch: tuple[str, ...], prepare: Callable[[Pipeline], Awaitable[tuple[AuditEvent, Writes]]]
    ) -> AuditEvent:
        """One optimistic transaction: read (under WATCH), then the writes and the audit event
        chained to the current head, in one MULTI/EXEC; retried when another writer got there first."""
        with _store_errors():
            async with self._turn, self._r.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        await pipe.watch(AUDIT_HEAD, *watch)
                        event, writes = await prepare(pipe)
                        head = await pipe.get(AUDIT_HEAD) or GENESIS
                        sealed = event.sealed(prev_hash=head)
                        pipe.multi()  # type: ignore[no-untyped-call]
                        writes(pipe)
                        sealed_json = sealed.model_dump_json()
                        pipe.xadd(AUDIT_STREAM, {"event": sealed_json})
                        if sealed.run_id is not None:
                            pipe.rpush(run_events_key(sealed.run_id), sealed_json)
                        pipe.set(AUDIT_HEAD, sealed.hash)
                        await pipe.execute()
                        return sealed
                    except WatchError:
                        self.redone += 1
                        continue


@contextmanager
def _store_errors() -> Iterator[None]:
    """Redis not answering is one typed error everywhere: callers fail closed on it."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise StoreUnavailable(f"Redis did not answer: {type(exc).__name__}") from exc


def verify_chain(events: list[tuple[str, AuditEvent]]) -> tuple[bool, str | None, str]:
    """(whole, first broken stream id, why). Pure: recomputes every link from the start.
    `check_chain` (bot/domain/audit.py) also catches unreadable entries and a cut-off end."""
    check = check_chain((stream_id, event.model_dump_json()) for stream_id, event in events)
    return check.whole, check.broken_id, check.why


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
