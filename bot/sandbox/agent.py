"""The agent process: `python -m bot.sandbox.agent`, started by the broker inside the sandbox.

It holds no credentials and no network. It reads one `Job` line from stdin, runs the planner it
names, and asks the parent for everything else (LLM completions, commands, repository files)
over the line protocol on its stdio. Its stdout belongs to the protocol: anything a planner
prints is moved to stderr so it can never be mistaken for a message.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import itertools
import os
import sys
import traceback
from typing import IO, Any

from bot.domain.models import Usage
from bot.domain.secrets import redact
from bot.errors import LlmError, PassError
from bot.planner.port import ChatMessage, Completion, Planner, PlanningContext
from bot.sandbox.protocol import (
    MAX_RESPONSE_BYTES,
    AgentFailure,
    ChatMessageModel,
    CommandRequest,
    FileListRequest,
    FileReadRequest,
    Job,
    LineReader,
    LlmRequest,
    Oversized,
    Request,
    Response,
    Result,
    encode,
)

# Planners known by a short name; anything else is a "module:attribute" factory.
PLANNER_FACTORIES = {
    "heuristic": "bot.planner.heuristic:HeuristicPlanner",
    "openai": "bot.planner.openai_planner:in_sandbox",
}


class BrokerRefused(PassError):
    """The parent refused a request; `rule` names the policy rule when one decided."""

    def __init__(self, message: str, rule: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule


class BrokerClient:
    """The agent's side of the protocol: one request out, the matching response back."""

    def __init__(self, reader: LineReader, writer: IO[bytes]) -> None:
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Response]] = {}
        self._pump: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._pump = asyncio.create_task(self._read_responses())

    async def _read_responses(self) -> None:
        while (line := await self._reader.next()) is not None:
            if isinstance(line, Oversized):
                continue
            response = Response.model_validate_json(line)
            future = self._pending.pop(response.id, None)
            if future is not None and not future.done():
                future.set_result(response)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(BrokerRefused("the parent closed the channel"))

    def send(self, message: Result | AgentFailure | Request) -> None:
        self._writer.write(encode(message))
        self._writer.flush()

    async def request(self, build: Any, **fields: Any) -> dict[str, Any]:
        request_id = next(self._ids)
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        self.send(build(id=request_id, **fields))
        response = await future
        if not response.ok:
            raise BrokerRefused(response.error or "refused", response.rule)
        return response.result or {}

    async def run_command(self, argv: list[str] | str, timeout_s: float | None = None) -> dict[str, Any]:
        return await self.request(CommandRequest, type="command.run", argv=argv, timeout_s=timeout_s)

    async def read_file(self, path: str) -> str:
        result = await self.request(FileReadRequest, type="file.read", path=path)
        return str(result.get("text", ""))

    async def list_files(self, glob: str = "**/*") -> list[str]:
        result = await self.request(FileListRequest, type="file.list", glob=glob)
        return [str(p) for p in result.get("paths", [])]


class BrokerLlmClient:
    """The `LlmClient` a planner gets inside the sandbox: every call is made (and metered) by the parent."""

    def __init__(self, client: BrokerClient) -> None:
        self._client = client

    async def complete(
        self,
        messages: list[ChatMessage],
        *,
        json_schema: dict[str, object] | None = None,
        max_tokens: int = 4096,
    ) -> Completion:
        result = await self._client.request(
            LlmRequest,
            type="llm.complete",
            messages=[ChatMessageModel(role=m.role, content=m.content) for m in messages],
            json_schema=json_schema,
            max_tokens=max_tokens,
        )
        return Completion(
            content=str(result.get("content", "")),
            usage=Usage.model_validate(result.get("usage") or {}),
            model=str(result.get("model", "")),
            refusal=result.get("refusal"),
        )


def build_planner(job: Job, client: BrokerClient) -> Planner:
    spec = PLANNER_FACTORIES.get(job.planner, job.planner)
    module_name, _, attribute = spec.partition(":")
    if not attribute:
        raise PassError(f"unknown planner '{job.planner}'")
    factory = getattr(importlib.import_module(module_name), attribute)
    offered: dict[str, Any] = {"llm": BrokerLlmClient(client), "broker": client, "model": job.model}
    accepted = inspect.signature(factory).parameters
    planner: Planner = factory(**{k: v for k, v in offered.items() if k in accepted})
    return planner


async def run_job(reader: LineReader, writer: IO[bytes]) -> int:
    first = await reader.next()
    if first is None or isinstance(first, Oversized):
        return 2
    job = Job.model_validate_json(first)
    client = BrokerClient(reader, writer)
    client.start()
    try:
        planner = build_planner(job, client)
        context = PlanningContext(**job.context.model_dump())
        outcome = await planner.plan(job.prd, context)
    except Exception as exc:  # noqa: BLE001 - any planner error becomes a reported failure
        tail = "".join(traceback.format_exception(exc)[-3:])
        client.send(
            AgentFailure(
                type="failure",
                message=redact(f"{type(exc).__name__}: {exc}\n{tail}")[:19_000],
                llm_error=redact(str(exc))[:2_000] if isinstance(exc, LlmError) else None,
            )
        )
        return 1
    client.send(
        Result(
            type="result",
            planner=planner.name,
            plan=outcome.plan,
            findings=outcome.findings,
            retries=outcome.retries,
        )
    )
    return 0


async def _main() -> int:
    # Keep the real stdout for the protocol; point fd 1 at stderr so stray prints are harmless.
    protocol_out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    loop = asyncio.get_running_loop()
    stream = asyncio.StreamReader(limit=MAX_RESPONSE_BYTES, loop=loop)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream), sys.stdin)
    return await run_job(LineReader(stream, MAX_RESPONSE_BYTES), protocol_out)


if __name__ == "__main__":
    sys.exit(asyncio.run(_main()))
