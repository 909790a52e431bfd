"""Audit events and their hash chain (pure).

Each event holds the hash of the one before it; its own hash covers its content and that link.
Editing or removing any stored event breaks the chain at that event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

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


GENESIS = "0" * 64


@dataclass(frozen=True)
class ChainCheck:
    """The outcome of recomputing the chain. When broken: the first bad link and why."""

    whole: bool
    events: int
    why: str = "ok"
    broken_id: str | None = None
    # 1-based position of the broken event in the stream (None when the end is missing).
    position: int | None = None
    # The broken event as stored, when it could still be read (to name its run and action).
    event: AuditEvent | None = None


def check_chain(entries: Iterable[tuple[str, str]], *, head: str | None = None) -> ChainCheck:
    """Recompute every link from the start over (stream id, stored JSON) pairs.

    `head` is the hash the store recorded as the newest event, read *before* the entries: it
    must be one of the hashes in the chain, otherwise events were cut off the end (a truncation
    leaves every remaining link intact). Reading it first keeps a concurrent writer, who can
    only add events after it, from looking like tampering.
    """
    prev = GENESIS
    seen = {GENESIS}
    count = 0
    last_id: str | None = None
    for position, (stream_id, raw) in enumerate(entries, start=1):
        count = position
        last_id = stream_id
        try:
            event = AuditEvent.model_validate_json(raw)
        except ValidationError:
            return ChainCheck(False, count, "it cannot be read as an audit event (overwritten)", stream_id, position)
        if event.prev_hash != prev:
            why = "its prev_hash does not match the hash of the event before it (an event was removed or inserted)"
            return ChainCheck(False, count, why, stream_id, position, event)
        if chain_hash(event) != event.hash:
            why = "its content does not match its hash (edited after it was written)"
            return ChainCheck(False, count, why, stream_id, position, event)
        prev = event.hash
        seen.add(prev)
    if head is not None and head not in seen:
        why = "the newest events are missing: the recorded head hash is not in the chain (cut off the end)"
        return ChainCheck(False, count, why, last_id, None)
    return ChainCheck(True, count)
