"""Identifiers PASS gives Slack, and the small payloads it gets back.

Button values and modal metadata are versioned pydantic models, so a click from a card posted by
an older PASS is parsed (or refused) explicitly instead of half-understood. Each carries the run id
and the plan hash it was rendered for: approving a plan that changed since is refused.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.errors import BadInput

COMMAND = "/pass"


class ActionId(str, Enum):
    APPROVE = "pass.approve"
    # Approve, rewriting the issues an earlier run of the same PRD created (Approve then skips).
    APPROVE_UPDATE = "pass.approve_update"
    REJECT = "pass.reject"
    CHOOSE_ITEMS = "pass.choose_items"


class ViewId(str, Enum):
    REJECT = "pass.reject"
    SELECT_ITEMS = "pass.select_items"


class ShortcutId(str, Enum):
    PLAN_WITH_PASS = "pass.plan_with_pass"  # noqa: S105 - a callback id, not a secret


# Block and action ids inside PASS's modals (Slack returns input values keyed by them).
REJECT_REASON_BLOCK = "reason"
REJECT_REASON_INPUT = "reason_input"
SELECT_BLOCK_PREFIX = "items_"
SELECT_INPUT = "items_input"


P = TypeVar("P", bound="_Payload")


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def encode(self) -> str:
        return self.model_dump_json()

    @classmethod
    def decode(cls: type[P], raw: str | None) -> P:
        try:
            return cls.model_validate_json(raw or "")
        except ValidationError as exc:
            raise BadInput("this button or form is from an unknown or older PASS version") from exc


class ButtonValue(_Payload):
    """What an Approve / Reject / Choose items button carries (under 2,000 characters)."""

    v: Literal[1] = 1
    run_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    plan_hash: str = Field(pattern=r"^[0-9a-f]{64}$")


class ModalContext(_Payload):
    """A modal's private_metadata: which run and plan, and where to answer the person."""

    v: Literal[1] = 1
    run_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    plan_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    channel: str | None = None
