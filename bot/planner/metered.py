"""Cost governance around an `LlmClient`: every call priced and held against the caps first.

`MeteredLlm` lives with the credentials (in the parent process, next to the real client) and
hands out one `RunLlm` per run: an `LlmClient` that reserves a call's worst-case cost against
the run's cap and the workspace's daily cap (the shared `SpendLedger`) before making it, refuses
it with `CostCapReached` when it could pass either, and settles the real, priced usage after.
A planner in the sandbox never meters anything itself: it only ever talks to a `RunLlm` through
the broker, so it cannot skip, fake or outspend the meter.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

from bot.domain.cost import CostPolicy
from bot.domain.models import Usage
from bot.errors import CostCapReached, LlmError
from bot.planner.costs import CostMeter, InMemorySpendLedger, SpendLedger, utc_today
from bot.planner.port import ChatMessage, Completion, LlmClient


def prompt_chars(messages: list[ChatMessage], json_schema: dict[str, object] | None) -> int:
    """What the cost estimate counts as prompt: the messages and the schema sent with them."""
    return sum(len(m.content) for m in messages) + (len(json.dumps(json_schema)) if json_schema else 0)


class MeteredLlm:
    """The parent's gate to one model: a `RunLlm` per run, all of them sharing one ledger."""

    def __init__(
        self,
        llm: LlmClient,
        model: str,
        costs: CostPolicy,
        *,
        ledger: SpendLedger | None = None,
        today: Callable[[], date] = utc_today,
    ) -> None:
        costs.price_for(model)  # an unpriced model is a configuration error at start-up, not mid-run
        self._llm = llm
        self.model = model
        self._costs = costs
        # In-memory only fits a single process; production passes the Redis ledger.
        self._ledger = ledger if ledger is not None else InMemorySpendLedger()
        self._today = today

    def for_run(self, workspace: str) -> RunLlm:
        meter = CostMeter(self._costs, self.model, ledger=self._ledger, workspace=workspace, today=self._today)
        return RunLlm(self._llm, meter)


class RunLlm:
    """An `LlmClient` metered against the caps of one run; `usage` is what the run has spent."""

    def __init__(self, llm: LlmClient, meter: CostMeter) -> None:
        self._llm = llm
        self._meter = meter

    @property
    def usage(self) -> Usage:
        return self._meter.usage

    async def complete(
        self,
        messages: list[ChatMessage],
        *,
        json_schema: dict[str, object] | None = None,
        max_tokens: int = 4096,
    ) -> Completion:
        try:
            reserved = await self._meter.reserve(prompt_chars(messages, json_schema), max_tokens)
            settled = False
            try:
                completion = await self._llm.complete(messages, json_schema=json_schema, max_tokens=max_tokens)
                completion.usage = await self._meter.settle(reserved, completion.usage)
                settled = True
            finally:
                if not settled:
                    await self._meter.release(reserved)
        except (CostCapReached, LlmError) as exc:
            exc.usage = self._meter.usage  # spend is shown on every run, the stopped ones too
            raise
        return completion


class UsageTally:
    """An `LlmClient` that only adds up the usage of a client metered elsewhere (the sandbox's
    parent prices and caps every call; the planner inside just reports what it was told)."""

    def __init__(self, llm: LlmClient) -> None:
        self._llm = llm
        self.usage = Usage()

    async def complete(
        self,
        messages: list[ChatMessage],
        *,
        json_schema: dict[str, object] | None = None,
        max_tokens: int = 4096,
    ) -> Completion:
        completion = await self._llm.complete(messages, json_schema=json_schema, max_tokens=max_tokens)
        self.usage = self.usage + completion.usage
        return completion
