"""A local OpenAI-compatible server for the planner's tests.

It answers `POST /v1/chat/completions` from a script (one entry per request, in order), and
records every request it received, so tests assert on what reached the "model" and what the
planner made of the answers. An unscripted request gets a 500 that names the problem.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.adapters.openai_client import OpenAILlmClient, RetryPolicy
from bot.domain.cost import CostPolicy
from bot.domain.models import Prd
from bot.planner.costs import load_cost_policy
from bot.planner.prd import parse_prd

ROOT = Path(__file__).resolve().parents[2]
PRD_DIR = ROOT / "tests" / "fixtures" / "prd"
TEST_KEY = "sk-test-DoNotPrintMe0123456789abcdefABCDEF"
MODEL = "gpt-4o-mini"


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    # Seconds the server waits before answering (to make a client time out).
    delay_s: float = 0.0


Responder = Reply | Callable[[dict[str, Any]], Reply]


def completion(
    content: str | None,
    *,
    prompt_tokens: int = 1_000,
    completion_tokens: int = 500,
    refusal: str | None = None,
    finish_reason: str = "stop",
    usage: bool = True,
) -> Reply:
    body: dict[str, Any] = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
                "finish_reason": finish_reason,
            }
        ],
    }
    if usage:
        body["usage"] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
    return Reply(body=body)


def api_error(status: int, message: str, *, code: str | None = None, headers: dict[str, str] | None = None) -> Reply:
    return Reply(
        status=status,
        body={"error": {"message": message, "type": "test_error", "param": None, "code": code}},
        headers=headers or {},
    )


@dataclass
class Received:
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def schema_name(self) -> str | None:
        fmt = self.body.get("response_format") or {}
        return (fmt.get("json_schema") or {}).get("name")

    def message(self, role: str, index: int = 0) -> str:
        return [m["content"] for m in self.body["messages"] if m["role"] == role][index]


class FakeOpenAI:
    def __init__(self) -> None:
        self.script: deque[Responder] = deque()
        self.received: list[Received] = []
        self.base_url = ""

    def then(self, *replies: Responder) -> FakeOpenAI:
        self.script.extend(replies)
        return self

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append(Received(body=body, headers=dict(request.headers)))
        if not self.script:
            return web.json_response(
                {"error": {"message": "fake server: no scripted reply left", "type": "test", "code": None}},
                status=500,
            )
        entry = self.script.popleft()
        reply = entry(body) if callable(entry) else entry
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        return web.json_response(reply.body, status=reply.status, headers=reply.headers)


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake._handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.base_url = f"http://127.0.0.1:{port}/v1"
    yield fake
    await runner.cleanup()


class RecordedSleep:
    """Stands in for asyncio.sleep: notes each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleep() -> RecordedSleep:
    return RecordedSleep()


@pytest.fixture
async def llm(fake_openai: FakeOpenAI, sleep: RecordedSleep) -> AsyncIterator[OpenAILlmClient]:
    client = OpenAILlmClient(
        api_key=TEST_KEY,
        model=MODEL,
        base_url=fake_openai.base_url,
        retry=RetryPolicy(max_attempts=3, backoff_base_s=0.5, max_retry_after_s=30, timeout_s=10),
        sleep=sleep,
    )
    yield client
    await client.aclose()


@pytest.fixture
def costs() -> CostPolicy:
    """The shipped policy file: tests price calls exactly as production does."""
    return load_cost_policy(ROOT / "policies" / "costs.yml")


def prd_fixture(name: str) -> Prd:
    return parse_prd((PRD_DIR / name).read_bytes())


def plan_json(requirement_ids: list[str], *, extra_body: str = "", items: list[dict[str, Any]] | None = None) -> str:
    """A well-formed plan: one item per requirement id, chained by dependencies."""
    if items is None:
        items = [
            {
                "key": f"W{n}",
                "title": f"Deliver {rid}",
                "body": f"Implement requirement {rid}. {extra_body}".strip(),
                "requirement_ids": [rid],
                "depends_on": [f"W{n - 1}"] if n > 1 else [],
                "labels": ["feature"],
                "estimate": "M",
                "acceptance_criteria": [f"{rid} works end to end"],
                "rationale": f"Serves {rid}.",
            }
            for n, rid in enumerate(requirement_ids, start=1)
        ]
    return json.dumps(
        {
            "summary": "A small plan.",
            "architecture": {
                "overview": "One service.",
                "components": [{"name": "api", "responsibility": "serves requests"}],
                "data_flow": ["user -> api -> store"],
                "interfaces": ["REST /todos"],
                "risks": ["scope creep"],
                "open_questions": ["Which database?"],
            },
            "items": items,
        }
    )
