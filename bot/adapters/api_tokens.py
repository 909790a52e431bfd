"""API bearer tokens: created once, shown once, stored only as a SHA-256 hash in Redis.

Scopes are `runs:write` (start runs) and `runs:read` (read runs). No scope can approve:
approval stays human, in Slack or at the CLI.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime

import redis.asyncio as aioredis

from bot.domain.models import utcnow
from bot.errors import BadInput

TOKENS_KEY = "pass:api_tokens"
TOKEN_PREFIX = "pass_"  # noqa: S105 - a prefix that makes PASS tokens recognisable, not a secret
SCOPES = frozenset({"runs:write", "runs:read"})


@dataclass(frozen=True)
class ApiToken:
    name: str
    scopes: frozenset[str]
    created_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_scopes(raw: str) -> frozenset[str]:
    scopes = frozenset(s.strip() for s in raw.split(",") if s.strip())
    if not scopes:
        raise BadInput("give at least one scope: runs:write, runs:read")
    unknown = scopes - SCOPES
    if unknown:
        hint = " No token can approve: approval stays human." if any("approv" in s for s in unknown) else ""
        raise BadInput(f"unknown scope(s): {', '.join(sorted(unknown))}; allowed: runs:write, runs:read.{hint}")
    return scopes


class ApiTokenStore:
    def __init__(self, client: aioredis.Redis) -> None:
        self._r = client

    async def create(self, name: str, scopes: frozenset[str]) -> str:
        """The new token, returned once; only its hash is stored."""
        if not name.strip():
            raise BadInput("a token needs a --name")
        existing = await self._r.hgetall(TOKENS_KEY)  # type: ignore[misc]
        if any(json.loads(v)["name"] == name for v in existing.values()):
            raise BadInput(f"a token named {name!r} exists; revoke it first")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        record = {"name": name, "scopes": sorted(scopes), "created_at": utcnow().isoformat()}
        await self._r.hset(TOKENS_KEY, _digest(token), json.dumps(record))  # type: ignore[misc]
        return token

    async def lookup(self, token: str) -> ApiToken | None:
        raw = await self._r.hget(TOKENS_KEY, _digest(token))  # type: ignore[misc]
        if raw is None:
            return None
        data = json.loads(raw)
        return ApiToken(data["name"], frozenset(data["scopes"]), datetime.fromisoformat(data["created_at"]))

    async def list(self) -> list[ApiToken]:
        records = [json.loads(v) for v in (await self._r.hgetall(TOKENS_KEY)).values()]  # type: ignore[misc]
        return sorted(
            (ApiToken(d["name"], frozenset(d["scopes"]), datetime.fromisoformat(d["created_at"])) for d in records),
            key=lambda t: t.created_at,
        )

    async def revoke(self, name: str) -> bool:
        records: dict[str, str] = await self._r.hgetall(TOKENS_KEY)  # type: ignore[misc]
        for digest, raw in records.items():
            if json.loads(raw)["name"] == name:
                await self._r.hdel(TOKENS_KEY, digest)  # type: ignore[misc]
                return True
        return False
