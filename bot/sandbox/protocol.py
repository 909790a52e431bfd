"""The line-delimited JSON protocol between the sandboxed agent and the parent's broker.

One JSON object per line. The parent writes a `Job` first; the agent then writes requests
(each with an `id`), the parent answers each with a `Response` carrying the same id, and the
agent ends with a `Result` or an `AgentFailure`. Every agent line is untrusted: it is parsed
against these models and refused (never half-understood) when it does not fit.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from bot.domain.models import Finding, Plan, Prd

MAX_REQUEST_BYTES = 1_000_000  # one agent → parent line
MAX_RESPONSE_BYTES = 8_000_000  # one parent → agent line (a job carries the PRD and context)


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JobContext(_Message):
    run_id: str
    repo: str | None = None
    repo_context: str = ""
    max_items: int = 60
    max_repair_rounds: int = 2


class Job(_Message):
    type: Literal["job"] = "job"
    prd: Prd
    # "heuristic", "openai", or a "module:attribute" factory (trusted: written by the parent).
    planner: str
    model: str | None = None
    context: JobContext


class ChatMessageModel(_Message):
    role: Literal["system", "user", "assistant"]
    content: str


class LlmRequest(_Message):
    type: Literal["llm.complete"]
    id: int
    messages: list[ChatMessageModel] = Field(min_length=1)
    json_schema: dict[str, Any] | None = None
    max_tokens: int = Field(default=4096, gt=0, le=200_000)


class CommandRequest(_Message):
    type: Literal["command.run"]
    id: int
    # A string is accepted so that the policy can refuse shell syntax and say so.
    argv: list[str] | str
    timeout_s: float | None = Field(default=None, gt=0)


class FileReadRequest(_Message):
    type: Literal["file.read"]
    id: int
    path: str = Field(min_length=1, max_length=4096)


class FileListRequest(_Message):
    type: Literal["file.list"]
    id: int
    glob: str = Field(default="**/*", max_length=256)


class Result(_Message):
    type: Literal["result"]
    planner: str
    plan: Plan
    findings: list[Finding] = Field(default_factory=list)
    retries: int = 0


class AgentFailure(_Message):
    type: Literal["failure"]
    message: str = Field(max_length=20_000)
    # Set when the planner stopped on an `LlmError` (invalid output, a refusal): the reason to show.
    llm_error: str | None = Field(default=None, max_length=2_000)


Request = LlmRequest | CommandRequest | FileReadRequest | FileListRequest
AgentMessage = Annotated[Request | Result | AgentFailure, Field(discriminator="type")]
_AGENT_MESSAGE: TypeAdapter[Request | Result | AgentFailure] = TypeAdapter(AgentMessage)
KNOWN_TYPES = frozenset({"llm.complete", "command.run", "file.read", "file.list", "result", "failure"})


class Response(_Message):
    type: Literal["response"] = "response"
    id: int
    ok: bool
    result: dict[str, Any] | None = None
    error: str | None = None
    # The policy rule that refused the request, when one did.
    rule: str | None = None


@dataclass(frozen=True)
class Violation:
    """An agent line that was refused: `kind` is oversized, malformed or unknown."""

    kind: str
    reason: str
    request_id: int | None = None


def parse_agent_line(line: bytes) -> Request | Result | AgentFailure | Violation:
    try:
        raw = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return Violation("malformed", f"not JSON ({len(line)} bytes)")
    if not isinstance(raw, dict):
        return Violation("malformed", "not a JSON object")
    request_id = raw.get("id") if isinstance(raw.get("id"), int) else None
    kind = raw.get("type")
    if kind not in KNOWN_TYPES:
        shown = kind if isinstance(kind, str) and len(kind) <= 40 else type(kind).__name__
        return Violation("unknown", f"unknown request type {shown!r}", request_id)
    try:
        return _AGENT_MESSAGE.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return Violation("malformed", f"{kind}: {where}: {first['msg']}", request_id)


def encode(message: BaseModel) -> bytes:
    return message.model_dump_json().encode() + b"\n"


@dataclass(frozen=True)
class Oversized:
    size: int


class LineReader:
    """Reads newline-terminated lines, refusing any longer than `limit` without buffering it all."""

    def __init__(self, stream: asyncio.StreamReader, limit: int) -> None:
        self.stream = stream
        self.limit = limit
        self._buffer = bytearray()

    async def next(self) -> bytes | Oversized | None:
        """The next line (without newline), an `Oversized` marker, or None at end of stream."""
        skipped = 0
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                if skipped or len(line) > self.limit:
                    return Oversized(skipped + len(line))
                return line
            if len(self._buffer) > self.limit:
                # Drop what we hold and keep skipping until this line ends.
                skipped += len(self._buffer)
                self._buffer.clear()
            chunk = await self.stream.read(65536)
            if not chunk:
                if skipped:
                    return Oversized(skipped + len(self._buffer))
                if self._buffer:
                    line = bytes(self._buffer)
                    self._buffer.clear()
                    return line
                return None
            self._buffer += chunk
