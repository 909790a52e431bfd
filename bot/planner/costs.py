"""Cost policy loading and metering of model calls against the run and daily caps.

The daily total lives in a `SpendLedger` shared by every worker (Redis in production), so two
runs of one workspace cannot both slip under the cap: a call first *reserves* its worst-case
estimate with one atomic add, and gives back the difference once the real usage is known.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Protocol

import yaml
from pydantic import ValidationError

from bot.domain.cost import CostPolicy, check_cap
from bot.domain.models import Usage
from bot.errors import ConfigError, CostCapReached


def load_cost_policy(path: Path) -> CostPolicy:
    """Read and validate `policies/costs.yml`. A bad file stops start-up with a precise reason."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"cost policy {path} is missing: copy policies/costs.yml from PASS") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"cost policy {path} is not valid YAML: {exc}") from exc
    try:
        return CostPolicy.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"cost policy {path} is invalid: {problems}") from exc


class SpendLedger(Protocol):
    """USD spent per workspace per UTC day, shared by every worker."""

    async def add(self, workspace: str, day: str, usd: float) -> float:
        """Add `usd` (may be negative, to give back a reservation) and return the new total."""
        ...

    async def get(self, workspace: str, day: str) -> float: ...


@dataclass
class InMemorySpendLedger:
    """A ledger for tests and single-process use."""

    totals: dict[tuple[str, str], float] = field(default_factory=dict)

    async def add(self, workspace: str, day: str, usd: float) -> float:
        total = self.totals.get((workspace, day), 0.0) + usd
        self.totals[(workspace, day)] = total
        return total

    async def get(self, workspace: str, day: str) -> float:
        return self.totals.get((workspace, day), 0.0)


def utc_today() -> date:
    return datetime.now(UTC).date()


class CostMeter:
    """Meters the model calls of one run: refuses a call that could pass a cap, adds up the rest."""

    def __init__(
        self,
        policy: CostPolicy,
        model: str,
        *,
        ledger: SpendLedger,
        workspace: str,
        today: Callable[[], date] = utc_today,
    ) -> None:
        self._policy = policy
        self._model = model
        self._ledger = ledger
        self._workspace = workspace
        self._caps = policy.caps_for(workspace)
        # One day per run, so a reservation and its settlement always hit the same total.
        self._day = today().isoformat()
        self.usage = Usage()

    async def reserve(self, prompt_chars: int, max_tokens: int) -> float:
        """Hold the call's worst-case cost against both caps, or raise `CostCapReached`."""
        estimate = self._policy.estimate(self._model, prompt_chars, max_tokens)
        check_cap(spent=self.usage.cost_usd, estimate=estimate, cap=self._caps.per_run_usd, scope="run")
        total = await self._ledger.add(self._workspace, self._day, estimate)
        if total > self._caps.per_day_usd:
            await self._ledger.add(self._workspace, self._day, -estimate)
            raise CostCapReached(
                spent=round(total - estimate, 6),
                cap=self._caps.per_day_usd,
                scope="day",
                estimate=estimate,
                workspace=self._workspace,
            )
        return estimate

    async def settle(self, reserved: float, usage: Usage) -> Usage:
        """Replace the reservation with what the call really cost; returns the priced usage."""
        priced = self._policy.priced(self._model, usage)
        await self._ledger.add(self._workspace, self._day, priced.cost_usd - reserved)
        self.usage = self.usage + priced
        return priced

    async def release(self, reserved: float) -> None:
        """Give back a reservation for a call that produced no answer."""
        await self._ledger.add(self._workspace, self._day, -reserved)
