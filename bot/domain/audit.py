"""Audit events and their hash chain (pure).

Each event holds the hash of the one before it; its own hash covers its content and that link.
Editing or removing any stored event breaks the chain at that event.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.models import Actor


class AuditEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: datetime
    run_id: str | None
    actor: Actor
    actor_id: str
    action: str
    status: str | None = None
    reason: str = ""
    detail: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str = ""
    hash: str = ""

    def sealed(self, *, prev_hash: str) -> AuditEvent:
        linked = self.model_copy(update={"prev_hash": prev_hash, "hash": ""})
        return linked.model_copy(update={"hash": chain_hash(linked)})


def chain_hash(event: AuditEvent) -> str:
    body = event.model_dump(mode="json", exclude={"hash"})
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
