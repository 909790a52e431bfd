"""`/pass …` and `@PASS …` go through one command table: the same words get the same answer,
ephemeral for the slash command, in the thread for the mention."""

from __future__ import annotations

import pytest

from bot.adapters.queue import JobKind
from bot.slack.answer_blocks import HELP_LINES
from bot.slack.commands import VERBS, HelpCommand, parse
from tests.slack import slack_requests as sr
from tests.slack.conftest import CHANNEL, REQUESTER, Harness

THREAD = "1700000009.000900"


async def _mention(h: Harness, text: str, event_id: str) -> None:
    body = sr.app_mention(f"<@UPASSBOT> {text}", user=REQUESTER, channel=CHANNEL, ts=THREAD, event_id=event_id)
    assert (await h.post(body, "application/json")).status == 200


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("status", "No runs here yet"),
        ("status nosuchrun", "There is no run `nosuchrun`"),
        ("stats 30d", "PASS stats, last 30d"),
    ],
)
async def test_a_command_answers_alike_by_slash_and_by_mention(harness: Harness, text: str, shown: str) -> None:
    assert (await harness.command(text)).status == 200
    (by_slash,) = harness.fake.responses
    assert shown in by_slash["text"] and by_slash["response_type"] == "ephemeral"

    await _mention(harness, text, "Ev0TABLE1")
    (by_mention,) = harness.fake.thread(CHANNEL, THREAD)
    assert by_mention["text"] == by_slash["text"]
    assert by_mention["blocks"] == by_slash["blocks"]


async def test_verify_by_mention_queues_the_check_and_answers_in_the_thread(harness: Harness) -> None:
    await _mention(harness, "verify acme/todo", "Ev0VERIFY1")
    (answer,) = harness.fake.thread(CHANNEL, THREAD)
    assert "Checking `acme/todo`" in answer["text"]
    assert await harness.queue.enqueue(JobKind.VERIFY_REPO, "Ev0VERIFY1") is False, "already queued, by the mention"


async def test_help_by_mention_is_answered_in_the_thread(harness: Harness) -> None:
    await _mention(harness, "deploy everything", "Ev0HELP1")
    (answer,) = harness.fake.thread(CHANNEL, THREAD)
    assert "does not know `deploy`" in str(answer["blocks"])


def test_every_verb_parses_to_a_command_and_is_in_the_help() -> None:
    for word, verb in VERBS.items():
        assert any(line == verb.usage for line in HELP_LINES)
        assert f"`/pass {word}" in verb.usage
    assert isinstance(parse("help"), HelpCommand) and parse("help").reason is None
