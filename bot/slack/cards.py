"""Where each run's card lives in Slack (channel, ts, thread): the reference and the port it is kept behind.

The web process posts a card and the worker updates it, so the reference is shared state (in
Redis: bot/adapters/redis_cards.py). A short per-run lock serialises updates (each renders the
latest run, so the last writer shows the newest state), and `done()`/`mark_done()` (under that
lock) make each thread post (details, plan file, issue list) happen once per run, and again only
if Slack never got it.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from pydantic import BaseModel, ConfigDict


class CardRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str
    ts: str
    # The thread details go to: the card's own thread, or the thread the request came from.
    thread_ts: str
    # The run version last drawn on the card (skips redundant chat.update calls).
    rendered: str = ""


class CardStore(Protocol):
    async def get(self, run_id: str) -> CardRef | None: ...

    async def save(self, run_id: str, ref: CardRef) -> None: ...

    async def done(self, run_id: str, what: str) -> bool:
        """Whether `what` (a thread post) was already made for this run."""
        ...

    async def mark_done(self, run_id: str, what: str) -> None:
        """Record a thread post once Slack has it: one that failed is tried again, never lost."""
        ...

    async def note_refused(self, run_id: str) -> None:
        """Slack refused this run's card (PASS not in the channel …): leave it for a while."""
        ...

    async def refused_recently(self, run_id: str) -> bool: ...

    def lock(self, run_id: str, *, wait: bool = True) -> AbstractAsyncContextManager[bool]:
        """Yields whether the lock is held: always with `wait` (or LockError after a while), and
        False at once without `wait` when another process holds it. A crashed holder frees the
        card after a timeout longer than a redraw takes."""
        ...
