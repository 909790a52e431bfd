"""How the OpenAI client meets a misbehaving endpoint: bounded retries, clear typed failures."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from bot.adapters.openai_client import OpenAILlmClient, RetryPolicy
from bot.domain.cost import CostPolicy
from bot.errors import ConfigError, LlmAuthError, LlmRateLimited, LlmRequestRejected, LlmUnavailable
from bot.planner.openai_planner import OpenAIPlanner
from bot.planner.port import ChatMessage, PlanningContext
from bot.settings import Settings

from .conftest import (
    MODEL,
    TEST_KEY,
    FakeOpenAI,
    RecordedSleep,
    api_error,
    completion,
    plan_json,
    prd_fixture,
)

CTX = PlanningContext(run_id="run-2", workspace="T1")
HELLO = [ChatMessage("user", "hello")]


async def test_a_429_with_retry_after_is_waited_out_then_the_plan_succeeds(
    fake_openai: FakeOpenAI, llm: OpenAILlmClient, costs: CostPolicy, sleep: RecordedSleep
) -> None:
    prd = prd_fixture("02_taskmaster_test_prd_tiny.md")
    fake_openai.then(
        api_error(429, "Rate limit reached for requests", code="rate_limit_exceeded", headers={"Retry-After": "7"}),
        completion(plan_json([r.id for r in prd.requirements])),
    )

    outcome = await OpenAIPlanner(llm, MODEL, costs).plan(prd, CTX)

    assert len(outcome.plan.items) == 3
    assert sleep.waits == [7.0]
    assert len(fake_openai.received) == 2
    assert outcome.retries == 0  # transport retries are not repair rounds


async def test_retry_after_ms_is_honoured(fake_openai: FakeOpenAI, llm: OpenAILlmClient, sleep: RecordedSleep) -> None:
    fake_openai.then(api_error(429, "slow down", headers={"retry-after-ms": "250"}), completion("{}"))

    await llm.complete(HELLO)

    assert sleep.waits == [0.25]


async def test_a_429_asking_for_a_longer_wait_than_allowed_fails_now_instead_of_stalling(
    fake_openai: FakeOpenAI, llm: OpenAILlmClient, sleep: RecordedSleep
) -> None:
    fake_openai.then(api_error(429, "slow down", headers={"Retry-After": "3600"}))

    with pytest.raises(LlmRateLimited) as caught:
        await llm.complete(HELLO)

    assert "3600 s" in str(caught.value)
    assert caught.value.retry_after == 3600
    assert sleep.waits == []
    assert len(fake_openai.received) == 1


async def test_rate_limiting_that_never_ends_stops_after_the_bounded_attempts(
    fake_openai: FakeOpenAI, llm: OpenAILlmClient, sleep: RecordedSleep
) -> None:
    fake_openai.then(*[api_error(429, "slow down", headers={"Retry-After": "1"})] * 5)

    with pytest.raises(LlmRateLimited, match="after 3 attempts"):
        await llm.complete(HELLO)

    assert len(fake_openai.received) == 3
    assert sleep.waits == [1.0, 1.0]


async def test_no_quota_is_not_retried_and_says_billing(fake_openai: FakeOpenAI, llm: OpenAILlmClient) -> None:
    fake_openai.then(api_error(429, "You exceeded your current quota", code="insufficient_quota"))

    with pytest.raises(LlmRateLimited, match="billing"):
        await llm.complete(HELLO)

    assert len(fake_openai.received) == 1


async def test_a_hard_401_names_the_key_variable_and_never_its_value(
    fake_openai: FakeOpenAI, llm: OpenAILlmClient, costs: CostPolicy, sleep: RecordedSleep
) -> None:
    prd = prd_fixture("02_taskmaster_test_prd_tiny.md")
    # OpenAI's real 401 quotes part of the key back; none of it may reach the person or the logs.
    fake_openai.then(
        api_error(
            401,
            f"Incorrect API key provided: {TEST_KEY[:8]}***{TEST_KEY[-4:]}. Find your key at …",
            code="invalid_api_key",
        )
    )

    with capture_logs() as logs, pytest.raises(LlmAuthError) as caught:
        await OpenAIPlanner(llm, MODEL, costs).plan(prd, CTX)

    message = str(caught.value)
    assert "OPENAI_API_KEY" in message
    assert "401" in message
    assert fake_openai.base_url in message
    for fragment in (TEST_KEY, TEST_KEY[:8], TEST_KEY[-4:]):
        assert fragment not in message
        assert fragment not in repr(logs)
    assert len(fake_openai.received) == 1 and sleep.waits == []


async def test_server_errors_are_retried_with_backoff_then_succeed(
    fake_openai: FakeOpenAI, llm: OpenAILlmClient, sleep: RecordedSleep
) -> None:
    fake_openai.then(api_error(500, "boom"), api_error(503, "overloaded"), completion('{"ok": true}'))

    answer = await llm.complete(HELLO)

    assert answer.content == '{"ok": true}'
    assert len(sleep.waits) == 2
    # Exponential backoff with jitter: the second wait is drawn from a higher band than the first.
    assert 0.25 <= sleep.waits[0] <= 0.5 and 0.5 <= sleep.waits[1] <= 1.0


async def test_server_errors_that_persist_fail_with_the_status_and_the_servers_words(
    fake_openai: FakeOpenAI, llm: OpenAILlmClient
) -> None:
    fake_openai.then(*[api_error(502, "upstream gateway exploded")] * 3)

    with pytest.raises(LlmUnavailable) as caught:
        await llm.complete(HELLO)

    assert "HTTP 502" in str(caught.value) and "upstream gateway exploded" in str(caught.value)
    assert len(fake_openai.received) == 3


async def test_a_timeout_is_retried_then_succeeds(fake_openai: FakeOpenAI, sleep: RecordedSleep) -> None:
    slow = completion("{}")
    slow.delay_s = 1.0
    fake_openai.then(slow, completion('{"second": true}'))
    client = OpenAILlmClient(
        api_key=TEST_KEY,
        model=MODEL,
        base_url=fake_openai.base_url,
        retry=RetryPolicy(max_attempts=2, backoff_base_s=0.01, timeout_s=0.2),
        sleep=sleep,
    )
    try:
        answer = await client.complete(HELLO)
    finally:
        await client.aclose()

    assert answer.content == '{"second": true}'
    assert len(fake_openai.received) == 2 and len(sleep.waits) == 1


async def test_an_endpoint_that_cannot_be_reached_fails_after_bounded_attempts(sleep: RecordedSleep) -> None:
    client = OpenAILlmClient(
        api_key=TEST_KEY,
        model=MODEL,
        base_url="http://127.0.0.1:9/v1",  # the discard port: nothing listens, the connection is refused
        retry=RetryPolicy(max_attempts=2, backoff_base_s=0.01, timeout_s=1),
        sleep=sleep,
    )
    try:
        with pytest.raises(LlmUnavailable, match="could not be reached"):
            await client.complete(HELLO)
    finally:
        await client.aclose()
    assert len(sleep.waits) == 1


async def test_an_unknown_model_is_rejected_without_retry(fake_openai: FakeOpenAI, llm: OpenAILlmClient) -> None:
    fake_openai.then(api_error(404, "The model `gpt-nope` does not exist", code="model_not_found"))

    with pytest.raises(LlmRequestRejected, match="does not exist") as caught:
        await llm.complete(HELLO)

    assert caught.value.status == 404
    assert len(fake_openai.received) == 1


async def test_an_endpoint_without_usage_fields_is_still_metered(fake_openai: FakeOpenAI, llm: OpenAILlmClient) -> None:
    fake_openai.then(completion('{"a": 1}', usage=False))

    answer = await llm.complete([ChatMessage("user", "x" * 400)])

    assert answer.usage.prompt_tokens == 100
    assert answer.usage.completion_tokens == 2


async def test_built_from_settings_it_talks_to_OPENAI_BASE_URL(fake_openai: FakeOpenAI) -> None:
    settings = Settings(openai_api_key=TEST_KEY, openai_base_url=fake_openai.base_url, model="gpt-4.1-mini")
    fake_openai.then(completion("{}"))
    client = OpenAILlmClient.from_settings(settings)
    try:
        await client.complete(HELLO)
    finally:
        await client.aclose()

    assert fake_openai.received[0].body["model"] == "gpt-4.1-mini"


def test_settings_without_a_key_name_the_variable_to_set() -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY is not set"):
        OpenAILlmClient.from_settings(Settings(openai_api_key=None, openai_base_url=None))
