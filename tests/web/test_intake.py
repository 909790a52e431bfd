"""Webhooks and the REST API over real HTTP on loopback: signatures, replay, scopes, redelivery."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.adapters.api_tokens import ApiTokenStore, parse_scopes
from bot.adapters.redis_store import RedisRunStore
from bot.domain.signatures import sign_github, sign_pass
from bot.entrypoints.web.intake import IntakeDeps, build_intake_app
from bot.errors import BadInput
from bot.services.runs import RunService
from tests.helpers import PRDS

SECRET = "webhook-secret-for-tests"
GH_SECRET = "github-secret-for-tests"
TINY = (PRDS / "02_taskmaster_test_prd_tiny.md").read_text()


class FakeFetcher:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.calls: list[tuple[str, str, str]] = []

    async def fetch(self, repo: str, path: str, ref: str) -> bytes:
        self.calls.append((repo, path, ref))
        return self.files[path]


class Intake:
    def __init__(self, server: TestServer, enqueued: list[str], tokens: ApiTokenStore, fetcher: FakeFetcher) -> None:
        self.server = server
        self.enqueued = enqueued
        self.tokens = tokens
        self.fetcher = fetcher

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))


@pytest.fixture
async def intake(runs: RunService, store: RedisRunStore) -> AsyncIterator[Intake]:
    enqueued: list[str] = []

    async def enqueue(run_id: str) -> None:
        enqueued.append(run_id)

    tokens = ApiTokenStore(store.client)
    fetcher = FakeFetcher({"docs/prd/todo.md": TINY.encode()})
    deps = IntakeDeps(
        runs=runs,
        tokens=tokens,
        enqueue_execute=enqueue,
        webhook_secrets={"default": SECRET},
        github_webhook_secret=GH_SECRET,
        prd_fetcher=fetcher,
    )
    server = TestServer(build_intake_app(deps), host="127.0.0.1")
    await server.start_server()
    yield Intake(server, enqueued, tokens, fetcher)
    await server.close()


def _signed(body: bytes, *, secret: str = SECRET, ts: int | None = None, **headers: str) -> dict[str, str]:
    stamp = str(int(time.time()) if ts is None else ts)
    return {
        "X-Pass-Timestamp": stamp,
        "X-Pass-Signature": sign_pass(secret, stamp, body),
        "Content-Type": "application/json",
        **headers,
    }


async def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as resp:
        return resp.status, await resp.json()


BODY = json.dumps({"prd": TINY, "channel": "C1", "requester": "ci-bot", "repo": None}).encode()


async def test_a_signed_webhook_starts_one_run_and_a_redelivery_starts_none(intake: Intake) -> None:
    status, first = await _post(intake.url("/hooks/prd"), BODY, _signed(BODY, **{"Idempotency-Key": "d-1"}))
    assert status == 202 and first["created"]
    status, again = await _post(intake.url("/hooks/prd"), BODY, _signed(BODY, **{"Idempotency-Key": "d-1"}))
    assert status == 202 and again["run_id"] == first["run_id"] and not again["created"]
    assert intake.enqueued == [first["run_id"]]


async def test_a_signed_webhook_replayed_within_the_window_starts_no_second_run(intake: Intake) -> None:
    captured = _signed(BODY)  # no Idempotency-Key
    status, first = await _post(intake.url("/hooks/prd"), BODY, captured)
    assert status == 202 and first["created"]

    status, replay = await _post(intake.url("/hooks/prd"), BODY, captured)
    assert status == 202 and replay["run_id"] == first["run_id"] and not replay["created"]
    # The key is not signed: a replay that adds one is still the same request.
    status, keyed = await _post(intake.url("/hooks/prd"), BODY, {**captured, "Idempotency-Key": "fresh-key"})
    assert status == 202 and keyed["run_id"] == first["run_id"] and not keyed["created"]
    assert intake.enqueued == [first["run_id"]]

    # The sender signing the same PRD again (a new timestamp) asks for a new run, as before.
    status, again = await _post(intake.url("/hooks/prd"), BODY, _signed(BODY, ts=int(time.time()) - 7))
    assert status == 202 and again["created"] and again["run_id"] != first["run_id"]


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"X-Pass-Signature": "sha256=" + "0" * 64}, "does not match"),
        ({"X-Pass-Timestamp": str(int(time.time()) - 600)}, "5-minute window"),
        ({"X-Pass-Signature": ""}, "missing"),
    ],
)
async def test_a_forged_or_replayed_webhook_is_refused_with_401(
    intake: Intake, headers: dict[str, str], reason: str
) -> None:
    signed = _signed(BODY)
    if "X-Pass-Timestamp" in headers:
        # An old request re-sent as it was: valid signature for its old timestamp.
        signed = _signed(BODY, ts=int(headers["X-Pass-Timestamp"]))
    else:
        signed.update(headers)
    status, answer = await _post(intake.url("/hooks/prd"), BODY, signed)
    assert status == 401 and reason in answer["error"]
    assert intake.enqueued == []


async def test_a_bad_prd_or_bad_json_is_a_clear_400(intake: Intake) -> None:
    empty = json.dumps({"prd": "\x00\x01bin", "channel": "C1", "requester": "x"}).encode()
    status, answer = await _post(intake.url("/hooks/prd"), empty, _signed(empty))
    assert status == 400 and "binary" in answer["error"]
    broken = b"{not json"
    status, answer = await _post(intake.url("/hooks/prd"), broken, _signed(broken))
    assert status == 400 and answer["error"]
    assert intake.enqueued == []


async def test_api_tokens_carry_scopes_and_none_can_approve(intake: Intake) -> None:
    writer = await intake.tokens.create("ci", parse_scopes("runs:write"))
    reader = await intake.tokens.create("dash", parse_scopes("runs:read"))
    with pytest.raises(BadInput, match="approval stays human"):
        parse_scopes("runs:write,runs:approve")
    async with aiohttp.ClientSession() as http:
        async with http.post(intake.url("/api/runs"), data=BODY, headers={"Authorization": f"Bearer {reader}"}) as r:
            assert r.status == 403 and "runs:write" in (await r.json())["error"]
        async with http.post(intake.url("/api/runs"), data=BODY) as r:
            assert r.status == 401
        async with http.post(intake.url("/api/runs"), data=BODY, headers={"Authorization": "Bearer pass_nope"}) as r:
            assert r.status == 401
        async with http.post(intake.url("/api/runs"), data=BODY, headers={"Authorization": f"Bearer {writer}"}) as r:
            assert r.status == 202
            run_id = (await r.json())["run_id"]
        async with http.get(intake.url(f"/api/runs/{run_id}"), headers={"Authorization": f"Bearer {writer}"}) as r:
            assert r.status == 403
        async with http.get(intake.url(f"/api/runs/{run_id}"), headers={"Authorization": f"Bearer {reader}"}) as r:
            assert r.status == 200
            run = await r.json()
            assert run["run_id"] == run_id and run["status"] == "queued" and run["source"] == "api"
        async with http.get(intake.url("/api/runs/nope"), headers={"Authorization": f"Bearer {reader}"}) as r:
            assert r.status == 404
    # Only the hash is stored: the token itself is nowhere in Redis.
    stored = await intake.tokens._r.hgetall("pass:api_tokens")
    assert writer not in json.dumps(stored)


def _push(paths: list[str]) -> bytes:
    return json.dumps(
        {
            "ref": "refs/heads/main",
            "after": "abc123",
            "repository": {"full_name": "acme/app"},
            "commits": [{"added": paths[:1], "modified": paths[1:]}],
        }
    ).encode()


async def test_a_github_push_touching_a_prd_starts_a_plan_once_per_delivery(intake: Intake) -> None:
    body = _push(["docs/prd/todo.md", "src/app.py"])
    headers = {
        "X-Hub-Signature-256": sign_github(GH_SECRET, body),
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "gh-1",
    }
    status, answer = await _post(intake.url("/hooks/github"), body, headers)
    assert status == 202 and [r["path"] for r in answer["runs"]] == ["docs/prd/todo.md"]
    status, again = await _post(intake.url("/hooks/github"), body, headers)
    assert again["runs"][0]["run_id"] == answer["runs"][0]["run_id"] and not again["runs"][0]["created"]
    assert intake.fetcher.calls[0] == ("acme/app", "docs/prd/todo.md", "abc123")
    assert len(intake.enqueued) == 1
    forged = dict(headers, **{"X-Hub-Signature-256": sign_github("wrong", body)})
    status, refused = await _post(intake.url("/hooks/github"), body, forged)
    assert status == 401 and "does not match" in refused["error"]


async def test_a_push_without_prd_files_starts_nothing(intake: Intake) -> None:
    body = _push(["src/app.py"])
    headers = {"X-Hub-Signature-256": sign_github(GH_SECRET, body), "X-GitHub-Event": "push"}
    status, answer = await _post(intake.url("/hooks/github"), body, headers)
    assert status == 202 and answer["runs"] == [] and intake.enqueued == []
