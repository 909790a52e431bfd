"""What reaches the bot: signatures, replays, Slack's retries, and every way to ask for a plan."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot.adapters.redis_store import RedisRunStore
from bot.domain.status import RunStatus
from bot.entrypoints.dev.signing import sign
from bot.policies import Policies, SourcePolicy
from bot.slack.actions import ShortcutId
from tests.helpers import PRDS, REPO_ROOT, free_port
from tests.slack import slack_requests as sr
from tests.slack.conftest import CHANNEL, REQUESTER, Harness, HarnessFactory, card_text
from tests.slack.fake_slack import SharedFile

TINY = (PRDS / "02_taskmaster_test_prd_tiny.md").read_text()


def test_requests_are_signed_exactly_as_slack_signs_them() -> None:
    vector = json.loads((sr.FIXTURES / "signing_test_vector.json").read_text())
    assert sign(vector["signing_secret"], vector["timestamp"], vector["body"]) == vector["expected_signature"]


async def test_a_forged_signature_is_refused_with_401_and_starts_nothing(harness: Harness) -> None:
    reply = await harness.command(f"plan {TINY}", secret="not-the-signing-secret")
    assert reply.status == 401
    assert await harness.store.list_runs() == []
    assert harness.fake.of("chat.postMessage") == []


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"payload=%7Bnot-json", "application/x-www-form-urlencoded"),
        (b"\xff\xfe not utf-8 at all", "application/x-www-form-urlencoded"),
        (b'{"type": "event_callback", ', "application/json"),
    ],
    ids=["payload-not-json", "not-utf8", "json-cut-short"],
)
async def test_an_unsigned_malformed_body_is_refused_with_401_before_it_is_read(
    harness: Harness, body: bytes, content_type: str, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": str(int(time.time()))}
    async with harness.http.post(harness.events_url, data=body, headers=headers) as response:
        assert response.status == 401
        assert "Traceback" not in await response.text()
    assert not [r for r in caplog.records if r.exc_info], "nothing was raised on the way"
    assert await harness.store.list_runs() == []


async def test_a_replayed_request_from_ten_minutes_ago_is_refused_with_401(harness: Harness) -> None:
    reply = await harness.command(f"plan {TINY}", timestamp=int(time.time()) - 600)
    assert reply.status == 401
    assert await harness.store.list_runs() == []


async def test_a_retried_slash_command_starts_one_run(harness: Harness) -> None:
    body = sr.slash_command(
        f"plan {TINY}", user=REQUESTER, channel=CHANNEL, response_url=harness.fake.response_url("c")
    )
    first = await harness.post(body, "application/x-www-form-urlencoded")
    again = await harness.post(body, "application/x-www-form-urlencoded", retry_num=1)
    assert first.status == again.status == 200
    assert len(await harness.store.list_runs()) == 1
    assert len(harness.fake.of("chat.postMessage")) == 1
    assert await harness.drain() == 1


async def test_a_redelivered_mention_starts_one_run_and_replies_in_its_thread(harness: Harness) -> None:
    body = sr.app_mention(
        f"<@UPASSBOT> plan {TINY}", user=REQUESTER, channel=CHANNEL, ts="1700000001.000100", event_id="Ev0PLAN1"
    )
    assert (await harness.post(body, "application/json")).status == 200
    assert (await harness.post(body, "application/json", retry_num=1)).status == 200
    assert (await harness.post(body, "application/json", retry_num=2)).status == 200

    run = await harness.only_run()
    assert run.thread_ts == "1700000001.000100"
    ref, _ = await harness.card(run.run_id)
    assert ref.thread_ts == "1700000001.000100", "the card and its details stay in the mention's thread"
    (posted,) = harness.fake.of("chat.postMessage")
    assert posted["thread_ts"] == "1700000001.000100"


async def test_plan_with_pass_on_a_message_plans_that_message(harness: Harness) -> None:
    body = sr.message_shortcut(
        ShortcutId.PLAN_WITH_PASS.value,
        TINY,
        user=REQUESTER,
        channel=CHANNEL,
        ts="1700000002.000200",
        response_url=harness.fake.response_url("s"),
    )
    assert (await harness.post(body, "application/x-www-form-urlencoded")).status == 200
    run = await harness.only_run()
    assert run.prd is not None and run.prd.title in TINY
    assert run.thread_ts == "1700000002.000200" and run.requester == REQUESTER
    await harness.drain()
    assert (await harness.store.get(run.run_id)).status is RunStatus.AWAITING_APPROVAL


async def test_a_prd_shared_as_a_slack_file_is_downloaded_and_planned(harness: Harness) -> None:
    harness.fake.shared_files["F0PRD123"] = SharedFile("prd.md", TINY.encode(), shared_in=(CHANNEL,))
    link = "https://pass-test.slack.com/files/UAUTHOR/F0PRD123/prd.md"
    await harness.command(f"plan <{link}> repo=acme/todo")
    run = await harness.only_run()
    assert run.prd is not None and run.prd.text.strip() == TINY.strip()
    assert run.repo == "acme/todo"
    assert harness.fake.of("files.info") == [{"file": "F0PRD123"}]


async def test_a_slack_file_not_shared_in_the_channel_is_not_read_for_someone_else(harness: Harness) -> None:
    # Shared by its author in a private channel the requester is not in; PASS can see it there.
    harness.fake.shared_files["F0SECRET"] = SharedFile("board.md", TINY.encode(), user="UAUTHOR", shared_in=("GBOARD",))
    await harness.command("plan https://pass-test.slack.com/files/UAUTHOR/F0SECRET/board.md")

    assert await harness.store.list_runs() == []
    assert harness.fake.downloads == [], "the file was never downloaded"
    told = harness.fake.ephemerals()[-1]
    assert "not shared in this channel" in told and "Share the file in this channel" in told

    # Its author may use it where they like: sharing it is theirs to decide.
    await harness.command("plan https://pass-test.slack.com/files/UAUTHOR/F0SECRET/board.md", user="UAUTHOR")
    run = await harness.only_run()
    assert run.requester == "UAUTHOR" and harness.fake.downloads == ["F0SECRET"]


async def test_a_file_pass_cannot_open_is_explained(harness: Harness) -> None:
    await harness.command("plan https://pass-test.slack.com/files/UAUTHOR/F0MISSING/prd.md")
    assert await harness.store.list_runs() == []
    assert "file_not_found" in harness.fake.ephemerals()[-1]


async def test_a_repo_path_without_a_github_token_says_what_is_needed(harness: Harness) -> None:
    await harness.command("plan acme/todo:docs/prd.md")
    assert await harness.store.list_runs() == []
    assert "needs GITHUB_TOKEN" in harness.fake.ephemerals()[-1]


class RepoFiles:
    """GitHub's side of `/pass plan owner/name:path`: which repos are private, what was read."""

    def __init__(self, private: frozenset[str] = frozenset()) -> None:
        self.private = private
        self.read: list[str] = []

    async def is_private(self, repo: str) -> bool:
        return repo in self.private

    async def fetch(self, repo: str, path: str, ref: str) -> bytes:
        self.read.append(f"{repo}:{path}")
        return TINY.encode()


async def test_a_repo_path_is_read_from_github_when_a_token_is_set(make_harness: HarnessFactory) -> None:
    files = RepoFiles()
    h = await make_harness(github=files)
    await h.command("plan acme/todo:docs/prd.md")
    run = await h.only_run()
    assert files.read == ["acme/todo:docs/prd.md"]
    assert run.repo == "acme/todo", "issues go to the PRD's repo unless repo= says otherwise"


async def test_a_private_repo_is_read_only_for_a_channel_the_policy_allows(make_harness: HarnessFactory) -> None:
    files = RepoFiles(private=frozenset({"acme/secret-roadmap"}))
    policy = Policies(sources=SourcePolicy(private_repos={"CPRODUCT": ["acme/secret-*"]}))
    h = await make_harness(policy, github=files)

    await h.command("plan acme/secret-roadmap:prd.md", channel=CHANNEL)
    assert await h.store.list_runs() == [] and files.read == []
    told = h.fake.ephemerals()[-1]
    assert "`acme/secret-roadmap` is a private repository" in told and "policies/sources.yml" in told

    await h.command("plan acme/secret-roadmap:prd.md", channel="CPRODUCT")
    assert files.read == ["acme/secret-roadmap:prd.md"]
    assert (await h.only_run()).channel == "CPRODUCT"


async def test_help_answers_empty_and_unknown_input_in_the_ack(harness: Harness) -> None:
    for text in ("", "help", "deploy everything"):
        reply = await harness.command(text)
        assert reply.status == 200
        shown = reply.json()
        assert "/pass plan" in json.dumps(shown["blocks"])
    assert "does not know `deploy`" in json.dumps(reply.json())
    assert await harness.store.list_runs() == []


async def test_plan_without_a_prd_explains_what_it_needs(harness: Harness) -> None:
    reply = await harness.command("plan   repo=acme/todo")
    assert "needs a PRD" in json.dumps(reply.json())


async def test_status_and_stats_answer_only_the_person_who_asked(harness: Harness) -> None:
    await harness.command(f"plan {TINY}")
    await harness.drain()
    run = await harness.only_run()

    await harness.command("status")
    assert run.run_id in json.dumps(harness.fake.responses[-1])
    await harness.command(f"status {run.run_id}")
    assert "Waiting for approval" in json.dumps(harness.fake.responses[-1])
    await harness.command("status nosuchrun")
    assert "There is no run" in harness.fake.responses[-1]["text"]
    await harness.command("stats 30d")
    stats = json.dumps(harness.fake.responses[-1])
    assert "PASS stats" in stats and "last 30d" in stats and "pass rate" in stats.lower()
    refused = await harness.command("stats forever")
    assert "takes a window" in json.dumps(refused.json())
    assert all(r["response_type"] == "ephemeral" for r in harness.fake.responses)


async def test_verify_runs_the_repos_checks_in_the_worker_and_tells_only_the_asker(
    harness: Harness, tmp_path: Path
) -> None:
    # A real git repository to clone: the sample repo with one lint, one type and one test failure.
    work = tmp_path / "sample-src"
    shutil.copytree(REPO_ROOT / "tests" / "fixtures" / "sandbox" / "sample_repo", work)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.test", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=work, check=True)
    subprocess.run([*git, "add", "."], cwd=work, check=True)
    subprocess.run([*git, "commit", "-qm", "sample"], cwd=work, check=True)
    bare = tmp_path / "git" / "acme" / "sample.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)

    await harness.command("verify acme/sample")
    assert "Checking `acme/sample`" in harness.fake.responses[-1]["text"]
    await harness.drain()
    report = harness.fake.of("chat.postEphemeral")[-1]
    text = json.dumps(report)
    assert report["user"] == REQUESTER and report["channel"] == CHANNEL
    assert "3 problem(s)" in text and "Likely cause" in text and "F401" in text


async def test_a_template_prd_is_blocked_with_the_reason_on_the_card(harness: Harness) -> None:
    template = (PRDS / "01_taskmaster_example_prd_template.md").read_text()
    await harness.command(f"plan {template}")
    await harness.drain()
    run = await harness.only_run()
    assert run.status is RunStatus.BLOCKED
    _, card = await harness.card(run.run_id)
    assert "Blocked" in card_text(card) and "✗" in card_text(card)
    assert harness.fake.violations == []


async def test_healthz_is_200_with_redis_and_503_without(harness: Harness) -> None:
    from aiohttp.test_utils import TestServer

    from bot.entrypoints.web.app import create_web_app

    async with harness.http.get(str(harness.bot.make_url("/healthz"))) as response:
        assert response.status == 200 and (await response.json())["redis"] == "up"

    # A store whose Redis is not there (nothing listens on that port).
    gone = aioredis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
    server = TestServer(create_web_app(ping=RedisRunStore(gone).ping, health_timeout_s=0.5), host="127.0.0.1")
    await server.start_server()
    try:
        async with harness.http.get(str(server.make_url("/healthz"))) as response:
            assert response.status == 503 and (await response.json())["redis"] == "down"
    finally:
        await server.close()
        await gone.aclose()


async def test_digest_posts_this_channels_digest_now(harness: Harness) -> None:
    await harness.command(f"plan {TINY}")
    await harness.drain()
    before = len(harness.fake.of("chat.postMessage"))
    await harness.command("digest")
    posted = harness.fake.of("chat.postMessage")[before:]
    assert len(posted) == 1
    assert posted[0]["channel"] == harness.fake.of("chat.postMessage")[0]["channel"]
    assert "awaiting" in json.dumps(posted[0]).lower() or "waiting" in json.dumps(posted[0]).lower()
