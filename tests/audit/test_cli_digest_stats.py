"""`passbot stats` and `passbot digest --channel C` as a user runs them (real Redis, local Slack)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

from bot.adapters.redis_store import RedisRunStore
from bot.domain.models import Actor, Usage, utcnow
from bot.domain.status import RunStatus
from tests.audit.runs_fixture import HAPPY, make_run
from tests.helpers import RedisProcess, clean_env, passbot
from tests.slack.fake_slack import BOT_TOKEN, FakeSlack

S = RunStatus


async def _store_runs(store: RedisRunStore) -> None:
    now = utcnow()
    synced = [*HAPPY, (S.APPROVED, 200), (S.SYNCING, 210), (S.SYNCED, 400)]
    runs = [
        make_run("a1", now - timedelta(hours=5), synced, channel="C1", repo="acme/a", usage=Usage(prompt_tokens=900)),
        make_run("a2", now - timedelta(hours=4), [*HAPPY], channel="C1", repo="acme/a", title="Waiting <!here>"),
        make_run("a3", now - timedelta(days=20), synced, channel="C2", repo="acme/b", usage=Usage(prompt_tokens=50)),
    ]
    for run in runs:
        await store.create(run, actor=Actor.HUMAN, actor_id=run.requester)


async def test_stats_prints_the_window_asked_for(
    store: RedisRunStore, redis_server: RedisProcess, tmp_path: Path
) -> None:
    await _store_runs(store)
    env = clean_env(tmp_path / "data", REDIS_URL=redis_server.url)
    week = await asyncio.to_thread(passbot, "stats", "--json", env=env)
    assert week.returncode == 0, week.stderr
    summary = json.loads(week.stdout)
    assert summary["window"] == "7d" and summary["overall"]["runs"] == 2
    assert summary["overall"]["lead_time_synced"]["p50"] == 400
    assert summary["overall"]["prompt_tokens"] == 900
    month = json.loads((await asyncio.to_thread(passbot, "stats", "30d", "--json", env=env)).stdout)
    assert month["overall"]["runs"] == 3 and [g["key"] for g in month["by_repo"]] == ["acme/a", "acme/b"]
    text = (await asyncio.to_thread(passbot, "stats", env=env)).stdout.decode()
    assert "lead time to synced      p50 7m" in text and "verification pass rate   100%" in text
    bad = await asyncio.to_thread(passbot, "stats", "fortnight", env=env)
    assert bad.returncode == 2 and "not a time window" in bad.stderr.decode()


async def test_digest_posts_one_now_to_the_channel(
    store: RedisRunStore, redis_server: RedisProcess, slack: FakeSlack, tmp_path: Path
) -> None:
    await _store_runs(store)
    env = clean_env(
        tmp_path / "data", REDIS_URL=redis_server.url, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_API_URL=slack.api_url
    )
    sent = await asyncio.to_thread(passbot, "digest", "--channel", "C_TEAM", env=env)
    assert sent.returncode == 0, sent.stderr
    [post] = slack.posts
    assert post.channel == "C_TEAM" and "sent on request" in post.all_text
    assert "Waiting &lt;!here&gt;" in post.all_text and "<!here>" not in post.all_text
    assert "1 synced" in post.text and "1 approval(s) waiting" in post.text

    slack.channel_errors["C_GONE"] = "channel_not_found"
    refused = await asyncio.to_thread(passbot, "digest", "--channel", "C_GONE", env=env)
    assert refused.returncode == 1 and "channel_not_found" in refused.stderr.decode()
    assert BOT_TOKEN not in refused.stderr.decode() + refused.stdout.decode()
    assert len(slack.posts) == 1


async def test_digest_without_a_slack_token_says_how_to_fix_it(
    redis_server: RedisProcess, store: RedisRunStore, tmp_path: Path
) -> None:
    env = clean_env(tmp_path / "data", REDIS_URL=redis_server.url)
    missing = await asyncio.to_thread(passbot, "digest", "--channel", "C_TEAM", env=env)
    assert missing.returncode == 1 and "SLACK_BOT_TOKEN is not set" in missing.stderr.decode()
    printed = await asyncio.to_thread(passbot, "digest", "--channel", "C_TEAM", "--print", env=env)
    assert printed.returncode == 0 and json.loads(printed.stdout)["blocks"][0]["type"] == "header"
