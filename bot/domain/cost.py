"""Money: what a model call costs, what it might cost, and whether a cap allows it.

Pure arithmetic over the prices and caps of `policies/costs.yml` (loaded by
`bot.planner.costs`). Estimates are deliberately pessimistic: a call is priced as if it used all
of its `max_tokens`, so a cap refuses a call *before* it could be passed, never after.
"""

from __future__ import annotations

import math

from pydantic import Field

from bot.domain.models import Model, RequirementCheck, Usage
from bot.domain.money import usd
from bot.errors import ConfigError, CostCapReached

# About four characters of English or JSON per token: the usual rule of thumb, used only for
# estimates before a call; what a call really cost comes from the API's usage fields.
CHARS_PER_TOKEN = 4
PER_MILLION = 1_000_000


class ModelPrice(Model):
    """USD per one million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class CostCaps(Model):
    """USD limits. A run stops at `per_run_usd`; a workspace stops for the day at `per_day_usd`."""

    per_run_usd: float = Field(gt=0)
    per_day_usd: float = Field(gt=0)


class CostPolicy(Model):
    prices: dict[str, ModelPrice]
    # The price of a model the table does not list; None makes such a model a configuration error.
    default_price: ModelPrice | None = None
    caps: CostCaps
    # Per-workspace caps (Slack team id or "cli") that replace `caps` for that workspace.
    workspaces: dict[str, CostCaps] = Field(default_factory=dict)

    def price_for(self, model: str) -> ModelPrice:
        price = self.prices.get(model)
        if price is None:
            # "gpt-4o-mini-2024-07-18" is priced like "gpt-4o-mini": take the longest listed prefix.
            prefixes = [name for name in self.prices if model.startswith(name + "-")]
            if prefixes:
                price = self.prices[max(prefixes, key=len)]
        if price is None:
            price = self.default_price
        if price is None:
            raise ConfigError(
                f"policies/costs.yml has no price for model '{model}' and no default price: "
                f"add a line under `prices:` for it"
            )
        return price

    def caps_for(self, workspace: str) -> CostCaps:
        return self.workspaces.get(workspace, self.caps)

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        price = self.price_for(model)
        return (prompt_tokens * price.input + completion_tokens * price.output) / PER_MILLION

    def priced(self, model: str, usage: Usage) -> Usage:
        """The same token counts with their cost in USD."""
        return usage.model_copy(
            update={"cost_usd": round(self.cost(model, usage.prompt_tokens, usage.completion_tokens), 6)}
        )

    def estimate(self, model: str, prompt_chars: int, max_tokens: int) -> float:
        """The most a call could cost: its prompt at ~4 chars/token, plus every token it may write."""
        return self.cost(model, estimate_tokens(prompt_chars), max_tokens)


def estimate_tokens(chars: int) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN)


def check_cap(*, spent: float, estimate: float, cap: float, scope: str, workspace: str | None = None) -> None:
    """Refuse a call whose worst case would take `spent` past `cap`."""
    if spent + estimate > cap:
        raise CostCapReached(spent=spent, cap=cap, scope=scope, estimate=estimate, workspace=workspace)


def cap_reached_requirement(error: CostCapReached) -> RequirementCheck:
    """The artifact a blocked run shows: spend, cap, and what to change."""
    key = "per_run_usd" if error.scope == "run" else "per_day_usd"
    if error.cap <= 0:
        whose = "This run's" if error.scope == "run" else f"Workspace {error.workspace or '?'}'s daily"
        fix = (
            f"{whose} cost cap is $0 (`{key}` in policies/costs.yml), so no model call is allowed. "
            "Raise it, or unset OPENAI_API_KEY to plan with the offline heuristic planner."
        )
    elif error.scope == "run":
        fix = (
            f"This run spent {usd(error.spent)} of its {usd(error.cap)} cap (next call up to "
            f"{usd(error.estimate)}). Raise `per_run_usd` in policies/costs.yml, shorten the PRD, "
            f"or use a cheaper model (PASS_MODEL)."
        )
    else:
        fix = (
            f"Workspace {error.workspace or '?'} spent {usd(error.spent)} of its {usd(error.cap)} daily cap "
            f"(next call up to {usd(error.estimate)}). Wait until tomorrow (UTC) or raise `per_day_usd` "
            f"in policies/costs.yml."
        )
    return RequirementCheck(name="cost cap reached", ok=False, fix=fix)
