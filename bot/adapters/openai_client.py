"""`LlmClient` over the `openai` SDK's chat completions, against any OpenAI-compatible endpoint.

Retries are ours, not the SDK's (it is built with `max_retries=0`): the SDK would sleep for as
long as a server asks, while PASS waits at most `max_retry_after_s` per attempt and a bounded
number of attempts, and says exactly why it stopped. The API key is held by the SDK only; no
message built here contains it, and the server's own text is never echoed for auth errors
(OpenAI's 401 message quotes part of the key).
"""

from __future__ import annotations

import asyncio
import math
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONSchema

from bot.domain.cost import estimate_tokens
from bot.domain.models import Usage
from bot.domain.secrets import redact
from bot.errors import ConfigError, LlmAuthError, LlmError, LlmRateLimited, LlmRequestRejected, LlmUnavailable
from bot.logging import get_logger
from bot.planner.port import ChatMessage, Completion
from bot.settings import Settings

log = get_logger(__name__)

Sleep = Callable[[float], Awaitable[None]]
_SCHEMA_NAME = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class RetryPolicy:
    """How long PASS keeps trying one call. Defaults suit a background worker."""

    # Attempts per call in total (the first one included).
    max_attempts: int = 4
    # Exponential backoff for 5xx and timeouts: base * 2**n, with jitter, capped.
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 20.0
    # A 429 asking for a longer wait than this ends the call now instead of stalling the run.
    max_retry_after_s: float = 60.0
    # Per-request timeout.
    timeout_s: float = 120.0


def without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class OpenAILlmClient:
    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        key_source: str = "OPENAI_API_KEY",
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._retry = retry or RetryPolicy()
        self._client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=self._retry.timeout_s
        )
        self._model = model
        self._key_source = key_source
        self._sleep = sleep
        # Shown in errors and logs: without any user:password an endpoint URL may carry.
        self.base_url = without_credentials(str(self._client.base_url))

    @classmethod
    def from_settings(cls, settings: Settings, *, retry: RetryPolicy | None = None) -> OpenAILlmClient:
        if settings.openai_api_key is None or not settings.openai_api_key.get_secret_value():
            raise ConfigError(
                "OPENAI_API_KEY is not set: set it to use the OpenAI planner, or leave it unset and "
                "PASS plans with the offline heuristic planner"
            )
        return cls(
            api_key=settings.openai_api_key.get_secret_value(),
            model=settings.model,
            base_url=settings.openai_base_url,
            retry=retry,
        )

    async def aclose(self) -> None:
        await self._client.close()

    async def complete(
        self,
        messages: list[ChatMessage],
        *,
        json_schema: dict[str, object] | None = None,
        max_tokens: int = 4096,
    ) -> Completion:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._create(messages, json_schema, max_tokens)
            except openai.APIStatusError as exc:
                error, wait = self._classify(exc, attempt)
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                kind = "timed out" if isinstance(exc, openai.APITimeoutError) else "could not be reached"
                error = LlmUnavailable(
                    f"the model endpoint {self.base_url} {kind} ({self._retry.max_attempts} attempts)"
                )
                wait = self._backoff(attempt)
            else:
                return self._completion(response, messages)
            if wait is None or attempt >= self._retry.max_attempts:
                raise error
            log.warning("llm_retry", model=self._model, attempt=attempt, wait_s=round(wait, 3), reason=str(error))
            await self._sleep(wait)

    async def _create(
        self, messages: list[ChatMessage], json_schema: dict[str, object] | None, max_tokens: int
    ) -> ChatCompletion:
        params: list[ChatCompletionMessageParam] = [_message_param(m) for m in messages]
        if json_schema is None:
            return await self._client.chat.completions.create(
                model=self._model, messages=params, max_completion_tokens=max_tokens
            )
        name = _SCHEMA_NAME.sub("_", str(json_schema.get("title", "output")))[:64]
        response_format: ResponseFormatJSONSchema = {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": json_schema, "strict": True},
        }
        return await self._client.chat.completions.create(
            model=self._model,
            messages=params,
            max_completion_tokens=max_tokens,
            response_format=response_format,
        )

    def _classify(self, exc: openai.APIStatusError, attempt: int) -> tuple[LlmError, float | None]:
        """The typed error for a status, and how long to wait before retrying (None: do not)."""
        status = exc.status_code
        if status in (401, 403):
            return LlmAuthError(status, self._key_source, self.base_url), None
        if status == 429:
            if _error_code(exc) == "insufficient_quota":
                return LlmRateLimited(
                    f"the model endpoint {self.base_url} says the account behind {self._key_source} "
                    f"has no quota left (HTTP 429 insufficient_quota): check its billing"
                ), None
            retry_after = _retry_after(exc.response.headers)
            wait = retry_after if retry_after is not None else self._backoff(attempt)
            if wait > self._retry.max_retry_after_s:
                return LlmRateLimited(
                    f"the model endpoint {self.base_url} is rate limiting (HTTP 429) and asks to wait "
                    f"{wait:.0f} s, longer than PASS waits ({self._retry.max_retry_after_s:.0f} s); "
                    "try again later",
                    retry_after=wait,
                ), None
            return LlmRateLimited(
                f"the model endpoint {self.base_url} is still rate limiting (HTTP 429) after "
                f"{self._retry.max_attempts} attempts; try again later",
                retry_after=retry_after,
            ), wait
        if status >= 500 or status in (408, 409):
            return LlmUnavailable(
                f"the model endpoint {self.base_url} failed with HTTP {status} "
                f"({self._retry.max_attempts} attempts): {_server_message(exc)}"
            ), self._backoff(attempt)
        return LlmRequestRejected(
            f"the model endpoint {self.base_url} rejected the request for model '{self._model}' "
            f"(HTTP {status}): {_server_message(exc)}",
            status=status,
        ), None

    def _backoff(self, attempt: int) -> float:
        # Full jitter (AWS architecture blog): spreads the retries of many workers apart.
        ceiling = min(self._retry.backoff_cap_s, self._retry.backoff_base_s * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography

    def _completion(self, response: ChatCompletion, messages: list[ChatMessage]) -> Completion:
        if not response.choices:
            raise LlmUnavailable(f"the model endpoint {self.base_url} answered with no choices")
        choice = response.choices[0]
        content = choice.message.content or ""
        refusal = choice.message.refusal
        if refusal is None and choice.finish_reason == "content_filter":
            refusal = "the endpoint's content filter stopped the answer"
        if response.usage is not None:
            usage = Usage(
                prompt_tokens=response.usage.prompt_tokens, completion_tokens=response.usage.completion_tokens
            )
        else:
            # Some compatible servers omit usage; count what was sent and received instead, so the
            # cost caps still see the call.
            usage = Usage(
                prompt_tokens=estimate_tokens(sum(len(m.content) for m in messages)),
                completion_tokens=estimate_tokens(len(content)),
            )
            log.warning("llm_usage_missing", model=self._model, estimated=usage.model_dump())
        return Completion(content=content, usage=usage, model=response.model or self._model, refusal=refusal)


def _message_param(message: ChatMessage) -> ChatCompletionMessageParam:
    if message.role == "system":
        return {"role": "system", "content": message.content}
    if message.role == "assistant":
        return {"role": "assistant", "content": message.content}
    return {"role": "user", "content": message.content}


def _error_code(exc: openai.APIStatusError) -> str | None:
    body: Any = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("code"), str):
            return str(inner["code"])
    return None


def _server_message(exc: openai.APIStatusError) -> str:
    """The server's explanation, one line, secrets redacted, clipped."""
    body: Any = exc.body
    message: Any = None
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
    text = redact(" ".join(str(message or exc.message).split()))
    return text if len(text) <= 300 else text[:299] + "…"


def _retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None
