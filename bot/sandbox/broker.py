"""The parent's side of an agent run: spawn the agent in the sandbox and answer its requests.

Every request is decided here, deterministically, and recorded through `record` (the lead
wires it to the audit log): LLM calls go to the injected `LlmClient` (which meters them),
commands through the command policy and then the sandbox, file reads stay inside the
workspace. Anything malformed, oversized or unknown is refused and recorded; an agent that
dies, hangs or keeps breaking the protocol ends the run with a typed error and a diagnosis.

When the parent's LLM client itself fails (a cost cap, a refused key, a 429 or 5xx that outlasted
its retries), the agent is told, stopped, and that very error is raised here, so the caller
handles it exactly as if the planner had run in-process: a cap blocks the run, the rest fail it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.domain.models import Usage
from bot.domain.secrets import redact
from bot.errors import CostCapReached, LlmError, PassError
from bot.planner.port import ChatMessage, LlmClient
from bot.sandbox.command_policy import CommandPolicy
from bot.sandbox.errors import AgentCrashed, AgentFailed, AgentLlmError, AgentMisbehaved, AgentTimedOut
from bot.sandbox.isolation import INSTALL_BWRAP_FIX, IsolationLevel, detect_isolation
from bot.sandbox.protocol import (
    MAX_REQUEST_BYTES,
    AgentFailure,
    CommandRequest,
    FileListRequest,
    FileReadRequest,
    Job,
    LineReader,
    LlmRequest,
    Oversized,
    Response,
    Result,
    Violation,
    encode,
    parse_agent_line,
)
from bot.sandbox.runner import (
    PROJECT_ROOT,
    Limits,
    SandboxProcess,
    SandboxResult,
    run_sandboxed,
    spawn_sandboxed,
)

RecordFn = Callable[[dict[str, Any]], Awaitable[None]]

MAX_FILE_BYTES = 512_000
MAX_LISTED_FILES = 2000
_STDERR_TAIL_BYTES = 16_000


@dataclass(frozen=True)
class AgentRun:
    """What an agent run produced, with the broker's own accounting (not the agent's claims)."""

    result: Result
    usage: Usage
    level: IsolationLevel
    enforced: tuple[str, ...]
    requests: int
    refused: int
    duration_s: float


class _LlmStopped(Exception):
    """The parent's LLM client failed for good: the conversation ends and the agent is stopped."""


class _StderrTail:
    def __init__(self) -> None:
        self.data = bytearray()

    async def drain(self, stream: asyncio.StreamReader | None) -> None:
        if stream is None:
            return
        while chunk := await stream.read(65536):
            self.data += chunk
            if len(self.data) > _STDERR_TAIL_BYTES:
                del self.data[: len(self.data) - _STDERR_TAIL_BYTES]

    def lines(self, count: int = 12) -> str:
        text = redact(self.data.decode("utf-8", "replace"))
        return "\n".join(text.strip().splitlines()[-count:])


class Broker:
    def __init__(
        self,
        *,
        workspace: Path,
        policy: CommandPolicy,
        record: RecordFn,
        llm: LlmClient | None = None,
        level: IsolationLevel | None = None,
        limits: Limits | None = None,
        timeout_s: float | None = None,
        command_timeout_s: float | None = None,
        max_violations: int = 5,
        python: str = sys.executable,
        pythonpath: Sequence[Path] = (),
    ) -> None:
        self.workspace = workspace.resolve()
        self.policy = policy
        self.record = record
        self.llm = llm
        self.level = level
        self.limits = limits or policy.sandbox.limits.to_limits()
        self.timeout_s = timeout_s or policy.sandbox.agent_timeout_s
        self.command_timeout_s = command_timeout_s or policy.sandbox.check_timeout_s
        self.max_violations = max_violations
        self.python = python
        self.pythonpath = [PROJECT_ROOT, *pythonpath]
        self.usage = Usage()
        self.requests = 0
        self.refused = 0
        self.last_request = "none"
        # The parent-side error that ended the run's model calls, raised once the agent is stopped.
        self.llm_failure: PassError | None = None

    async def run(self, job: Job, *, agent_argv: Sequence[str] | None = None) -> AgentRun:
        """Run the agent on `job` to its result. Otherwise raises an `AgentFailed` subclass, the
        parent LLM client's own error (`CostCapReached`, an `LlmError`), or `AgentLlmError` when
        the planner inside gave up on the model's answers; each carries the metered `usage`."""
        try:
            return await self._run(job, agent_argv)
        except (AgentFailed, CostCapReached, LlmError) as exc:
            exc.usage = self.usage  # counted here, from the calls the parent made; never the agent's claim
            raise

    async def _run(self, job: Job, agent_argv: Sequence[str] | None) -> AgentRun:
        argv = list(agent_argv or [self.python, "-m", "bot.sandbox.agent"])
        box = await spawn_sandboxed(
            argv,
            workspace=self.workspace,
            level=self.level,
            limits=self.limits,
            env={"PYTHONPATH": ":".join(str(p) for p in self.pythonpath)},
            # PASS's package only, not its checkout: no .env, no local data dir, no tests.
            ro_binds=[PROJECT_ROOT / "bot", *self.pythonpath[1:]],
            stdin_pipe=True,
        )
        started = time.monotonic()
        await self._record(
            "agent.started", level=box.level.label, enforced=list(box.enforced), run_id=job.context.run_id
        )
        stderr = _StderrTail()
        stderr_task = asyncio.create_task(stderr.drain(box.process.stderr))
        try:
            result = await asyncio.wait_for(self._converse(box, job), timeout=self.timeout_s)
        except TimeoutError:
            box.kill("timeout")
            await box.process.wait()
            diagnosis = (
                f"The agent did not finish within {self.timeout_s:g} s and was killed. "
                f"Last request: {self.last_request}. {self._stderr_note(stderr)}"
            )
            await self._record("agent.failed", reason="timeout", diagnosis=diagnosis)
            raise AgentTimedOut("the agent hung and was killed", diagnosis=diagnosis) from None
        except _LlmStopped:
            box.kill("llm-failed")
            await box.process.wait()
            failure = self.llm_failure
            assert failure is not None
            await self._record("agent.stopped", reason=type(failure).__name__, message=redact(str(failure))[:500])
            raise failure from None
        except AgentLlmError as exc:
            if box.process.returncode is None:
                box.kill("failed")
            await box.process.wait()
            await self._record("agent.failed", reason="AgentLlmError", diagnosis=str(exc))
            raise
        except AgentFailed as exc:
            if box.process.returncode is None:
                box.kill("failed")
            await box.process.wait()
            await self._settle(stderr_task)
            if isinstance(exc, AgentCrashed):
                exc.diagnosis = f"{exc.diagnosis} {self._stderr_note(stderr)}".strip()
            await self._record("agent.failed", reason=type(exc).__name__, diagnosis=exc.diagnosis)
            raise
        finally:
            await box.close()
            await self._settle(stderr_task)
        duration = round(time.monotonic() - started, 3)
        await self._record(
            "agent.finished",
            planner=result.planner,
            items=len(result.plan.items),
            requests=self.requests,
            refused=self.refused,
            duration_s=duration,
        )
        return AgentRun(
            result=result,
            usage=self.usage,
            level=box.level,
            enforced=box.enforced,
            requests=self.requests,
            refused=self.refused,
            duration_s=duration,
        )

    async def _settle(self, task: asyncio.Task[None]) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            done, _ = await asyncio.wait({task}, timeout=2)
            if task not in done:
                task.cancel()

    def _stderr_note(self, stderr: _StderrTail) -> str:
        tail = stderr.lines()
        return f"Last lines of its stderr:\n{tail}" if tail else "It wrote nothing to stderr."

    async def _converse(self, box: SandboxProcess, job: Job) -> Result:
        proc = box.process
        assert proc.stdin is not None and proc.stdout is not None
        await self._send(box, job)
        reader = LineReader(proc.stdout, MAX_REQUEST_BYTES)
        violations = 0
        while True:
            line = await reader.next()
            if line is None:
                code = await proc.wait()
                raise AgentCrashed(
                    "the agent exited without a result",
                    diagnosis=f"The agent process ended ({_how_it_ended(box, code)}) before sending a plan.",
                )
            message = (
                Violation("oversized", f"line of {line.size} bytes exceeds {MAX_REQUEST_BYTES}")
                if isinstance(line, Oversized)
                else parse_agent_line(line)
            )
            if isinstance(message, Violation):
                violations += 1
                await self._refuse_violation(box, message)
                if violations > self.max_violations:
                    raise AgentMisbehaved(
                        "the agent kept breaking the protocol",
                        diagnosis=f"{violations} refused messages; last: {message.kind}: {message.reason}",
                    )
                continue
            if isinstance(message, Result):
                return message
            if isinstance(message, AgentFailure):
                if message.llm_error:
                    raise AgentLlmError(redact(message.llm_error))
                raise AgentFailed("the planner failed inside the sandbox", diagnosis=redact(message.message))
            self.requests += 1
            response = await self._answer(message)
            await self._send(box, response)
            if self.llm_failure is not None:
                raise _LlmStopped

    async def _send(self, box: SandboxProcess, message: Job | Response) -> None:
        stdin = box.process.stdin
        assert stdin is not None
        try:
            stdin.write(encode(message))
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            code = await box.process.wait()
            raise AgentCrashed(
                "the agent stopped reading",
                diagnosis=f"The agent closed its input ({_how_it_ended(box, code)}).",
            ) from None

    async def _refuse_violation(self, box: SandboxProcess, violation: Violation) -> None:
        self.refused += 1
        await self._record(
            "agent.request",
            type=None,
            request_id=violation.request_id,
            decision="refused",
            rule=f"protocol-{violation.kind}",
            reason=violation.reason,
        )
        if violation.request_id is not None:
            await self._send(
                box,
                Response(
                    id=violation.request_id,
                    ok=False,
                    error=violation.reason,
                    rule=f"protocol-{violation.kind}",
                ),
            )

    async def _answer(self, request: LlmRequest | CommandRequest | FileReadRequest | FileListRequest) -> Response:
        if isinstance(request, LlmRequest):
            self.last_request = f"llm.complete #{request.id}"
            return await self._complete(request)
        if isinstance(request, CommandRequest):
            self.last_request = f"command.run #{request.id}"
            return await self._run_command(request)
        if isinstance(request, FileReadRequest):
            self.last_request = f"file.read #{request.id}"
            return await self._read_file(request)
        self.last_request = f"file.list #{request.id}"
        return await self._list_files(request)

    async def _deny(self, request_type: str, request_id: int, rule: str, reason: str, **detail: Any) -> Response:
        self.refused += 1
        await self._record(
            "agent.request",
            type=request_type,
            request_id=request_id,
            decision="refused",
            rule=rule,
            reason=reason,
            **detail,
        )
        return Response(id=request_id, ok=False, error=reason, rule=rule)

    async def _allowed(self, request_type: str, request_id: int, rule: str, **detail: Any) -> None:
        await self._record(
            "agent.request", type=request_type, request_id=request_id, decision="allowed", rule=rule, **detail
        )

    async def _complete(self, request: LlmRequest) -> Response:
        if self.llm is None:
            return await self._deny("llm.complete", request.id, "no-llm", "no LLM is configured for this run")
        messages = [ChatMessage(role=m.role, content=m.content) for m in request.messages]
        try:
            completion = await self.llm.complete(
                messages, json_schema=request.json_schema, max_tokens=request.max_tokens
            )
        except CostCapReached as exc:
            # Refused before any call was made; the agent hears why, then the run is blocked.
            self.llm_failure = exc
            return await self._deny(
                "llm.complete",
                request.id,
                "cost-cap",
                redact(str(exc)),
                scope=exc.scope,
                spent_usd=exc.spent,
                cap_usd=exc.cap,
                estimate_usd=exc.estimate,
            )
        except PassError as exc:
            # The endpoint failed for good (its messages never hold the key), or the spend ledger
            # is down and the caps cannot be checked: either way no model call can be made now.
            self.llm_failure = exc
            rule = "llm-error" if isinstance(exc, LlmError) else "llm-unavailable"
            return await self._deny("llm.complete", request.id, rule, redact(str(exc)), error=type(exc).__name__)
        self.usage = self.usage + completion.usage
        await self._record(
            "agent.request",
            type="llm.complete",
            request_id=request.id,
            decision="allowed",
            rule="llm",
            model=completion.model,
            usage=completion.usage.model_dump(mode="json"),
        )
        return Response(
            id=request.id,
            ok=True,
            result={
                "content": completion.content,
                "usage": completion.usage.model_dump(mode="json"),
                "model": completion.model,
                "refusal": completion.refusal,
            },
        )

    async def _run_command(self, request: CommandRequest) -> Response:
        decision = self.policy.decide(request.argv, self.workspace)
        shown = redact(" ".join(decision.argv))[:500]
        if not decision.allowed:
            return await self._deny("command.run", request.id, decision.rule, decision.describe(), argv=shown)
        if refusal := await self._repo_code_refusal(decision.argv):
            return await self._deny("command.run", request.id, "repo-code-isolation", refusal, argv=shown)
        timeout = min(request.timeout_s or self.command_timeout_s, self.command_timeout_s)
        result = await run_sandboxed(
            decision.argv, workspace=self.workspace, level=self.level, timeout_s=timeout, limits=self.limits
        )
        await self._record(
            "agent.request",
            type="command.run",
            request_id=request.id,
            decision="allowed",
            rule=decision.rule,
            argv=shown,
            exit_code=result.exit_code,
            kill_reason=result.kill_reason,
            level=result.level.label,
        )
        return Response(id=request.id, ok=True, result=_command_payload(result))

    async def _repo_code_refusal(self, argv: Sequence[str]) -> str | None:
        """Why a command that runs the workspace's code may not run at this level, or None."""
        sandbox = self.policy.sandbox
        if not argv or argv[0] not in sandbox.repo_code_programs:
            return None
        level = self.level if self.level is not None else await detect_isolation()
        minimum = max(sandbox.minimum, sandbox.repo_checks_minimum)
        if level >= minimum:
            return None
        return (
            f"`{argv[0]}` runs the workspace's own code, which needs {minimum.label} isolation "
            f"(this host: {level.label}, whose root filesystem is writable). {INSTALL_BWRAP_FIX}"
        )

    def _inside(self, relative: str) -> Path | None:
        candidate = (self.workspace / relative).resolve()
        return candidate if candidate.is_relative_to(self.workspace) else None

    async def _read_file(self, request: FileReadRequest) -> Response:
        path = self._inside(request.path)
        if path is None:
            return await self._deny(
                "file.read",
                request.id,
                "path-outside-workspace",
                "the path is outside the workspace",
                path=request.path[:300],
            )
        if not path.is_file():
            return await self._deny(
                "file.read", request.id, "not-found", "no such file in the workspace", path=request.path[:300]
            )
        raw = await asyncio.to_thread(_read_prefix, path, MAX_FILE_BYTES + 1)
        text = raw[:MAX_FILE_BYTES].decode("utf-8", "replace")
        clean = redact(text)
        relative = str(path.relative_to(self.workspace))
        await self._allowed("file.read", request.id, "workspace-read", path=relative, redacted=clean != text)
        return Response(
            id=request.id,
            ok=True,
            result={"text": clean, "truncated": len(raw) > MAX_FILE_BYTES, "redacted": clean != text},
        )

    async def _list_files(self, request: FileListRequest) -> Response:
        if request.glob.startswith("/") or ".." in request.glob.split("/"):
            return await self._deny(
                "file.list",
                request.id,
                "path-outside-workspace",
                "the pattern leaves the workspace",
                glob=request.glob,
            )
        paths = await asyncio.to_thread(_list_workspace, self.workspace, request.glob)
        await self._allowed("file.list", request.id, "workspace-read", glob=request.glob, count=len(paths))
        return Response(
            id=request.id,
            ok=True,
            result={"paths": paths[:MAX_LISTED_FILES], "truncated": len(paths) > MAX_LISTED_FILES},
        )

    async def _record(self, event: str, **fields: Any) -> None:
        await self.record({"event": event, "actor": "agent", **fields})


def _read_prefix(path: Path, size: int) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


def _list_workspace(root: Path, pattern: str) -> list[str]:
    found: list[str] = []
    for path in sorted(root.glob(pattern)):
        if ".git" in path.parts or not path.is_file():
            continue
        resolved = path.resolve()
        if resolved.is_relative_to(root):
            found.append(str(path.relative_to(root)))
        if len(found) > MAX_LISTED_FILES:
            break
    return found


def _command_payload(result: SandboxResult) -> dict[str, Any]:
    return {
        "exit_code": result.exit_code,
        "signal": result.signal,
        "stdout": result.stdout,
        "stderr": result.stderr,
        "stdout_truncated": result.stdout_truncated,
        "stderr_truncated": result.stderr_truncated,
        "timed_out": result.timed_out,
        "kill_reason": result.kill_reason,
        "level": result.level.label,
        "duration_s": result.duration_s,
    }


def _how_it_ended(box: SandboxProcess, code: int) -> str:
    if box.kill_reason:
        return f"killed: {box.kill_reason}"
    if code != 0 and box.group is not None and box.group.oom_killed():
        return "killed for going past the memory limit of its sandbox"
    if code < 0 or (box.level is not IsolationLevel.RLIMITS and 128 < code < 160):
        number = -code if code < 0 else code - 128
        hint = {9: " — CPU hard limit or memory", 24: " — CPU-time limit", 25: " — file-size limit"}.get(number, "")
        return f"killed by signal {number}{hint}"
    return f"exit code {code}"
