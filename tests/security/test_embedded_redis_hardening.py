"""The embedded redis-server as repo code on the same machine would meet it: it wants a password
that lives only under PASS_DATA_DIR, it will not write files outside its data dir, and when it
dies the PASS process beside it starts it again with every run still there."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
from pathlib import Path

import aiohttp
import pytest
import redis
import redis.asyncio as aioredis

from bot.adapters.redis_server import PASSWORD_FILE, EmbeddedRedis, connect
from bot.adapters.redis_store import RedisRunStore
from bot.entrypoints.doctor import redis_auth_check
from tests.helpers import clean_env, free_port, stop_embedded_server
from tests.scale.procs import healthy, processes


@pytest.fixture
def data_dir(tmp_path: Path) -> object:
    path = tmp_path / "data"
    yield path
    stop_embedded_server(path)


def _server_pid(embedded: EmbeddedRedis) -> int:
    """redis-server retitles itself, but it works in its data dir (its `dir`)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes()
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if b"redis-server" in title and cwd == embedded.data_dir:
            return int(entry.name)
    raise AssertionError("no redis-server for this data dir")


async def test_a_client_without_the_password_is_refused(data_dir: Path) -> None:
    handle = connect(None, data_dir)
    try:
        assert await RedisRunStore(handle.client).ping()
        stranger = redis.Redis(unix_socket_path=str(handle.embedded.socket_path))  # type: ignore[union-attr]
        with pytest.raises(redis.AuthenticationError):
            stranger.set("pass:run:forged", "{}")
        stranger.close()
        # The server drops the stranger's connection in its own time; until then it is one more
        # client, and the handle would leave the server running for it (its Popen unreaped).
        for _ in range(100):
            if len(await handle.client.client_list()) == 1:
                break
            await asyncio.sleep(0.02)
        secret = data_dir / PASSWORD_FILE
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, "only PASS's uid may read the password"
        # argv is readable by every process of the machine: the password must not be in it.
        cmdline = Path(f"/proc/{_server_pid(handle.embedded)}/cmdline").read_bytes()  # type: ignore[arg-type]
        assert secret.read_text().strip().encode() not in cmdline
    finally:
        await handle.close()


async def test_commands_that_reach_outside_redis_are_off_even_with_the_password(data_dir: Path, tmp_path: Path) -> None:
    handle = connect(None, data_dir)
    try:
        client = handle.client
        target = tmp_path / "elsewhere"
        target.mkdir()
        for command in (
            ("CONFIG", "SET", "dir", str(target)),
            ("CONFIG", "GET", "requirepass"),
            ("DEBUG", "SLEEP", "0"),
            ("MODULE", "LIST"),
            ("REPLICAOF", "127.0.0.1", "1"),
            ("SAVE",),
            ("ACL", "SETUSER", "intruder", "on", ">x", "+@all"),
        ):
            with pytest.raises(aioredis.ResponseError, match="unknown command"):
                await client.execute_command(*command)
        assert list(target.iterdir()) == [], "nothing was written outside the data dir"
        assert await client.set("still", "works")
    finally:
        await handle.close()


async def test_a_killed_embedded_server_is_started_again_with_its_data(data_dir: Path) -> None:
    handle = connect(None, data_dir)
    stop = asyncio.Event()
    watching = asyncio.create_task(handle.keep_alive(stop, interval_s=0.05))
    try:
        await handle.client.set("pass:kept", "yes")
        os.kill(_server_pid(handle.embedded), signal.SIGKILL)  # type: ignore[arg-type]
        for _ in range(200):
            try:
                if await handle.client.get("pass:kept") == "yes":
                    break
            except (aioredis.ConnectionError, OSError):
                pass
            await asyncio.sleep(0.05)
        assert await handle.client.get("pass:kept") == "yes", "the restarted server has the data"
    finally:
        stop.set()
        await watching
        await handle.close()


@pytest.mark.slow
async def test_serve_answers_again_by_itself_after_its_embedded_redis_is_killed(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    env = clean_env(data_dir, PASS_HTTP_PORT=str(port))
    try:
        with processes(tmp_path, env) as procs:
            serve = procs.passbot("serve", "serve")
            async with aiohttp.ClientSession() as http:
                await procs.until(lambda: healthy(http, port), "serve answering /healthz")
                os.kill(_server_pid(EmbeddedRedis.for_dir(data_dir)), signal.SIGKILL)

                async def back() -> bool:
                    return await healthy(http, port) and any(
                        e.get("event") == "redis.restarted" for e in serve.events()
                    )

                await procs.until(back, "serve restarting its redis-server and answering 200 again")
    finally:
        stop_embedded_server(data_dir)


def test_doctor_warns_when_an_external_redis_has_no_password() -> None:
    assert not redis_auth_check("redis://redis.internal:6379/0").ok
    assert "requirepass" in redis_auth_check("redis://redis.internal:6379/0").detail
    assert redis_auth_check("redis://:s3cret@redis.internal:6379/0").ok
    assert redis_auth_check(None).ok
    assert "s3cret" not in redis_auth_check("redis://:s3cret@redis.internal:6379/0").detail


def test_clean_env_keeps_no_redis_password() -> None:
    assert "REDIS_URL" not in clean_env(Path("/nonexistent"))
