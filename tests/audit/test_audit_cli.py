"""`passbot audit verify` and `passbot audit export` as a user runs them, on the real Redis."""

from __future__ import annotations

import json
from pathlib import Path

from bot.adapters.redis_store import AUDIT_STREAM, RedisRunStore
from bot.domain.models import Source
from bot.services.runs import RunService
from tests.helpers import PRDS, RedisProcess, clean_env, passbot

TINY = (PRDS / "02_taskmaster_test_prd_tiny.md").read_bytes()


async def _two_staged_runs(runs: RunService) -> list[str]:
    ids = []
    for requester in ("U_A", "U_B"):
        run, _ = await runs.submit(TINY, source=Source.SLACK, requester=requester, channel="C1")
        ids.append((await runs.execute(run.run_id)).run_id)
    return ids


async def _rewrite_stream(store: RedisRunStore, replace: dict[str, str]) -> None:
    """Rewrite stored events in place (same stream ids), as someone with Redis access could."""
    entries = await store.client.xrange(AUDIT_STREAM)
    await store.client.delete(AUDIT_STREAM)
    for stream_id, fields in entries:
        await store.client.xadd(AUDIT_STREAM, {"event": replace.get(stream_id, fields["event"])}, id=stream_id)


def _env(tmp_path: Path, redis_server: RedisProcess) -> dict[str, str]:
    return clean_env(tmp_path / "data", REDIS_URL=redis_server.url)


async def test_verify_passes_then_fails_at_the_one_edited_event(
    runs: RunService, store: RedisRunStore, redis_server: RedisProcess, tmp_path: Path
) -> None:
    await _two_staged_runs(runs)
    env = _env(tmp_path, redis_server)
    whole = passbot("audit", "verify", env=env)
    total = len(await store.client.xrange(AUDIT_STREAM))
    assert whole.returncode == 0, whole.stderr
    assert f"whole: {total} event(s)" in whole.stdout.decode()

    entries = await store.client.xrange(AUDIT_STREAM)
    victim_id, fields = entries[6]
    event = json.loads(fields["event"])
    event["actor_id"] = "U_MALLORY"
    await _rewrite_stream(store, {victim_id: json.dumps(event)})

    broken = passbot("audit", "verify", env=env)
    out = broken.stdout.decode()
    assert broken.returncode == 1
    assert f"BROKEN at event {victim_id} (#7 of 7 read)" in out
    assert event["action"] in out and event["run_id"] in out and "edited" in out


async def test_verify_names_a_removed_event_and_a_cut_off_end(
    runs: RunService, store: RedisRunStore, redis_server: RedisProcess, tmp_path: Path
) -> None:
    await _two_staged_runs(runs)
    env = _env(tmp_path, redis_server)
    entries = await store.client.xrange(AUDIT_STREAM)
    await store.client.xdel(AUDIT_STREAM, entries[-1][0])
    cut = passbot("audit", "verify", env=env)
    assert cut.returncode == 1
    assert f"BROKEN at the end (after event {entries[-2][0]})" in cut.stdout.decode()
    assert "newest events are missing" in cut.stdout.decode()

    await store.client.xdel(AUDIT_STREAM, entries[3][0])
    removed = passbot("audit", "verify", env=env)
    assert removed.returncode == 1
    assert f"BROKEN at event {entries[4][0]} (#4 of 4 read)" in removed.stdout.decode()
    assert "removed" in removed.stdout.decode()


async def test_an_overwritten_unreadable_event_is_named_by_verify_and_export(
    runs: RunService, store: RedisRunStore, redis_server: RedisProcess, tmp_path: Path
) -> None:
    await _two_staged_runs(runs)
    env = _env(tmp_path, redis_server)
    entries = await store.client.xrange(AUDIT_STREAM)
    await _rewrite_stream(store, {entries[2][0]: "not json"})
    verify = passbot("audit", "verify", env=env)
    assert verify.returncode == 1 and f"BROKEN at event {entries[2][0]} (#3 of 3 read)" in verify.stdout.decode()
    export = passbot("audit", "export", env=env)
    assert export.returncode == 1
    assert entries[2][0] in export.stderr.decode()
    assert len(export.stdout.decode().splitlines()) == len(entries) - 1


async def test_export_writes_json_lines_filtered_by_run_and_time(
    runs: RunService, store: RedisRunStore, redis_server: RedisProcess, tmp_path: Path
) -> None:
    first, second = await _two_staged_runs(runs)
    env = _env(tmp_path, redis_server)
    everything = [json.loads(line) for line in passbot("audit", "export", env=env).stdout.decode().splitlines()]
    assert len(everything) == len(await store.client.xrange(AUDIT_STREAM))
    assert {"id", "at", "run_id", "actor", "actor_id", "action", "prev_hash", "hash"} <= set(everything[0])

    only_second = passbot("audit", "export", "--run", second, env=env).stdout.decode().splitlines()
    assert only_second and all(json.loads(line)["run_id"] == second for line in only_second)

    # --since: the time of the second run's request, written with an offset, keeps only what followed.
    requested_at = next(e["at"] for e in everything if e["run_id"] == second and e["action"] == "run.requested")
    from datetime import datetime, timedelta, timezone

    local = datetime.fromisoformat(requested_at).astimezone(timezone(timedelta(hours=5, minutes=30)))
    since = passbot("audit", "export", "--since", local.isoformat(), env=env).stdout.decode().splitlines()
    assert {json.loads(line)["run_id"] for line in since} == {second}
    assert passbot("audit", "export", "--since", "2000-01-01", env=env).stdout.decode().count("\n") == len(everything)
    assert passbot("audit", "export", "--since", "1h", env=env).stdout.decode().count("\n") == len(everything)

    bad = passbot("audit", "export", "--since", "last tuesday", env=env)
    assert bad.returncode == 2 and "not a time" in bad.stderr.decode()
    assert first != second
