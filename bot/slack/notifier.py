"""Keeps each run's Slack card in step with the run (a `RunService` listener).

On every change the card is re-rendered from the latest stored run and written in place
(`chat.update`); the first change posts it (`chat.postMessage`). When the plan is staged (or the
run stops) the details go into the thread once, with the full plan attached as markdown.

Slack being slow or down must not stop a run: a Slack error is logged with its traceback and the
run goes on; the next change redraws the card from the stored run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import aiohttp
from redis.exceptions import LockError
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.redis_store import RedisRunStore
from bot.domain.models import Run, utcnow
from bot.domain.secrets import redact
from bot.domain.status import RunStatus
from bot.logging import get_logger
from bot.policies import Policies, approval_deadline, approvals_needed
from bot.services.ports import SyncProgress
from bot.slack.block_kit import Message
from bot.slack.card_blocks import CardContext, status_card
from bot.slack.cards import CardRef, CardStore
from bot.slack.plan_document import plan_filename, plan_markdown
from bot.slack.thread_blocks import synced_pages, thread_details

log = get_logger(__name__)

SLACK_ERRORS = (SlackApiError, SlackClientError, aiohttp.ClientError, asyncio.TimeoutError, LockError)
_DETAILS_AT = {RunStatus.AWAITING_APPROVAL, RunStatus.BLOCKED, RunStatus.FAILED}


def card_version(run: Run) -> str:
    return f"{run.updated_at.isoformat()}|{run.status.value}|{len(run.approvals)}"


class SlackNotifier:
    def __init__(
        self,
        client: AsyncWebClient,
        store: RedisRunStore,
        cards: CardStore,
        policies: Policies,
        *,
        clock: Callable[[], datetime] = utcnow,
        attach_plan: bool = True,
    ) -> None:
        self.client = client
        self.store = store
        self.cards = cards
        self.policies = policies
        self.clock = clock
        self.attach_plan = attach_plan

    async def __call__(self, run: Run) -> None:
        if not run.channel:
            return
        try:
            ref = await self.refresh(run.run_id)
            if ref is not None:
                await self._thread_posts(run.run_id, ref)
        except SLACK_ERRORS:
            log.exception("slack.card_update_failed", run_id=run.run_id, status=run.status.value)

    def context(self, run: Run, sync_progress: tuple[int, int] | None = None) -> CardContext:
        rule = self.policies.approvals.rule_for(run)
        staged = run.entered_at(RunStatus.AWAITING_APPROVAL)
        return CardContext(
            now=self.clock(),
            approvals_needed=approvals_needed(rule, run),
            approval_deadline=approval_deadline(rule, staged) if staged else None,
            sync_progress=sync_progress,
        )

    async def refresh(self, run_id: str, sync_progress: tuple[int, int] | None = None) -> CardRef | None:
        """Draw the latest state of the run on its card (posting the card the first time)."""
        async with self.cards.lock(run_id):
            run = await self.store.get(run_id)
            if not run.channel:
                return None
            card = status_card(run, self.context(run, sync_progress))
            ref = await self.cards.get(run_id)
            version = card_version(run)
            if ref is None:
                posted = await self.client.chat_postMessage(channel=run.channel, thread_ts=run.thread_ts, **card)
                ts = str(posted["ts"])
                ref = CardRef(channel=str(posted["channel"]), ts=ts, thread_ts=run.thread_ts or ts, rendered=version)
                await self.cards.save(run_id, ref)
                log.info("slack.card_posted", run_id=run_id, channel=ref.channel, ts=ts)
            elif ref.rendered != version or sync_progress is not None:
                await self.client.chat_update(channel=ref.channel, ts=ref.ts, **card)
                ref = ref.model_copy(update={"rendered": version})
                await self.cards.save(run_id, ref)
            return ref

    async def _thread_posts(self, run_id: str, ref: CardRef) -> None:
        run = await self.store.get(run_id)
        if run.status in _DETAILS_AT and await self.cards.once(run_id, "details"):
            for page in thread_details(run):
                await self._reply(ref, page)
            if run.plan is not None and self.attach_plan:
                await self.client.files_upload_v2(
                    channel=ref.channel,
                    thread_ts=ref.thread_ts,
                    content=redact(plan_markdown(run)),
                    filename=plan_filename(run),
                    title=f"PASS plan {run.run_id}",
                    initial_comment="The full plan, as markdown.",
                )
        if run.status is RunStatus.SYNCED and await self.cards.once(run_id, "synced"):
            for page in synced_pages(run):
                await self._reply(ref, page)

    async def _reply(self, ref: CardRef, page: Message) -> None:
        await self.client.chat_postMessage(channel=ref.channel, thread_ts=ref.thread_ts, **page)

    def sync_progress(self, run_id: str) -> SyncProgress:
        """A progress callback for the sync job: the card counts issues as they are created,
        redrawn about ten times per sync so a long backlog stays under chat.update's rate tier."""

        async def progress(done: int, total: int) -> None:
            step = max(1, total // 10)
            if done != total and done % step:
                return
            try:
                await self.refresh(run_id, sync_progress=(done, total))
            except SLACK_ERRORS:
                log.exception("slack.progress_update_failed", run_id=run_id)

        return progress
