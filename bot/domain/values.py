"""The domain values that errors carry (what a stopped run had spent, the checks that blocked it).

They live apart from bot/domain/models.py so that bot/errors.py can name them without importing
the run model, which imports the state machine, which raises errors (no import circle).
`bot.domain.models` re-exports them: import them from there.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class RequirementCheck(Model):
    """One precondition of a run (a token, a scope, a tool). `fix` says exactly what to do."""

    name: str
    ok: bool
    fix: str | None = None


class Usage(Model):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost_usd=round(self.cost_usd + other.cost_usd, 6),
        )
