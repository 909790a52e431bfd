"""`passbot dev` as a real process: one line to open, its own Redis, a clean stop."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.adapters.redis_server import EmbeddedRedis
from tests.dev.conftest import DevProcess
from tests.helpers import REPO_ROOT, clean_env

pytestmark = pytest.mark.slow


async def test_passbot_dev_prints_where_to_open_refuses_a_second_copy_and_stops_cleanly(
    dev_process: DevProcess, tmp_path: Path
) -> None:
    async with aiohttp.ClientSession() as http, http.get(dev_process.url) as page:
        assert page.status == 200 and "#planning" in await page.text()

    second = subprocess.run(
        [sys.executable, "-m", "bot", "dev", "--port", "0"],
        env=clean_env(tmp_path / "data"),
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=60,
    )
    assert second.returncode == 1
    assert b"another `passbot dev` is running" in second.stderr

    assert dev_process.stop() == 0, dev_process.log.read_text()[-3000:]
    assert not EmbeddedRedis.for_dir(tmp_path / "data" / "dev").running(), "its redis-server stops with it"
