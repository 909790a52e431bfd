"""Keeps each run's Slack card in step with the run (a `RunService` listener).

On every change the card is re-rendered from the latest stored run and written in place
(`chat.update`); the first change posts it (`chat.postMessage`). When the plan is staged (or the
run stops) the details go into the thread once, with the full plan attached as markdown.

Slack being slow or down must not stop a run: a Slack error is logged with its traceback and the
run goes on. The next change redraws the card from the stored run, and every worker's catch-up
scan (`catch_up`, each recovery interval) redraws cards and makes thread posts that Slack missed,
so a plan staged during a Slack outage still reaches its approvers when Slack is back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

import aiohttp
from redis.exceptions import LockError
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.models import Run, utcnow
from bot.domain.secrets import redact
from bot.domain.status import RunStatus
from bot.logging import get_logger
from bot.policies import Policies, approval_deadline, approvals_needed
from bot.services.ports import RunStore, SyncProgress
from bot.slack.block_kit import Message
from bot.slack.card_blocks import CardContext, status_card
from bot.slack.cards import CardRef, CardStore
from bot.slack.plan_document import plan_filename, plan_markdown
from bot.slack.thread_blocks import synced_pages, thread_details

log = get_logger(__name__)

SLACK_ERRORS = (SlackApiError, SlackClientError, aiohttp.ClientError, asyncio.TimeoutError, LockError)
_DETAILS_AT = {RunStatus.AWAITING_APPROVAL, RunStatus.BLOCKED, RunStatus.FAILED}
# States a staged plan moves on to; its details are posted late there if Slack missed them.
_AFTER_DETAILS = {
    RunStatus.APPROVED,
    RunStatus.SYNCING,
    RunStatus.SYNCED,
    RunStatus.REJECTED,
    RunStatus.EXPIRED,
}
# How long after it ended a run's card is still worth catching up.
CATCH_UP_WINDOW = timedelta(hours=1)


def slack_is_away(exc: BaseException) -> bool:
    """Slack itself did not answer (5xx, rate limited, no connection, timeout), as opposed to
    refusing one message (`not_in_channel`, `is_archived` …) or another worker holding the card."""
    if isinstance(exc, LockError):
        return False
    if isinstance(exc, SlackApiError):
        status: int = exc.response.status_code
        return status >= 500 or status == 429
    return True


def _slack_error(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        # The body is Slack's JSON envelope, or plain text when a proxy in front of Slack answered.
        data = exc.response.data
        code = data.get("error") if isinstance(data, dict) else None
        return str(code or f"HTTP {exc.response.status_code}")
    return type(exc).__name__


def card_version(run: Run) -> str:
    return f"{run.updated_at.isoformat()}|{run.status.value}|{len(run.approvals)}"


class SlackNotifier:
    def __init__(
        self,
        client: AsyncWebClient,
        store: RunStore,
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
            await self.redraw(run.run_id)
        except SLACK_ERRORS as exc:
            # Either way the catch-up scan (`catch_up`) draws it once Slack takes it.
            if slack_is_away(exc):
                log.warning("slack.card_deferred", run_id=run.run_id, status=run.status.value, error=_slack_error(exc))
            else:
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

    async def redraw(self, run_id: str, *, wait: bool = True) -> bool:
        """The card and the thread posts the run's state calls for, under the card's lock. With
        `wait=False`, False when another process holds the lock (nothing was drawn)."""
        async with self.cards.lock(run_id, wait=wait) as held:
            if not held:
                return False
            # One read of the run: the thread posts go with the card just drawn.
            run = await self.store.get(run_id)
            ref = await self._draw(run)
            if ref is not None:
                await self._thread_posts(run, ref)
        return True

    async def refresh(self, run_id: str, sync_progress: tuple[int, int] | None = None) -> CardRef | None:
        """Draw the latest state of the run on its card (posting the card the first time)."""
        async with self.cards.lock(run_id):
            return await self._draw(await self.store.get(run_id), sync_progress)

    async def _draw(self, run: Run, sync_progress: tuple[int, int] | None = None) -> CardRef | None:
        run_id = run.run_id
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

    async def _thread_posts(self, run: Run, ref: CardRef) -> None:
        run_id = run.run_id
        if await self._details_due(run):
            await self._post_pages(run_id, "details", ref, thread_details(run))
            if run.plan is not None and self.attach_plan and not await self.cards.done(run_id, "plan"):
                await self.client.files_upload_v2(
                    channel=ref.channel,
                    thread_ts=ref.thread_ts,
                    content=redact(plan_markdown(run)),
                    filename=plan_filename(run),
                    title=f"PASS plan {run.run_id}",
                    initial_comment="The full plan, as markdown.",
                )
                await self.cards.mark_done(run_id, "plan")
        if run.status is RunStatus.SYNCED:
            await self._post_pages(run_id, "synced", ref, synced_pages(run))

    async def _details_due(self, run: Run) -> bool:
        """The details go into the thread when the plan is staged or the run stops; a plan staged
        while Slack was down and decided since gets them late."""
        if await self.cards.done(run.run_id, "details"):
            return False
        if run.status in _DETAILS_AT:
            return True
        return run.status in _AFTER_DETAILS and run.entered_at(RunStatus.AWAITING_APPROVAL) is not None

    async def _post_pages(self, run_id: str, what: str, ref: CardRef, pages: list[Message]) -> None:
        """Each page once; after a failure the next redraw posts the pages Slack did not get."""
        if await self.cards.done(run_id, what):
            return
        for n, page in enumerate(pages):
            if not await self.cards.done(run_id, f"{what}:{n}"):
                await self.client.chat_postMessage(channel=ref.channel, thread_ts=ref.thread_ts, **page)
                await self.cards.mark_done(run_id, f"{what}:{n}")
        await self.cards.mark_done(run_id, what)

    async def _posts_missing(self, run: Run) -> bool:
        if await self._details_due(run):
            return True
        return run.status is RunStatus.SYNCED and not await self.cards.done(run.run_id, "synced")

    async def catch_up(self, *, window: timedelta = CATCH_UP_WINDOW) -> int:
        """Redraw the cards Slack missed: every run still under way, and every run that changed
        within `window`, whose card is missing or shows an older version. Stops at the first Slack
        error (Slack is still away; the next scan tries again) and returns how many it redrew.
        Several workers may scan at once: the card lock and the version make it one redraw."""
        now = self.clock()
        runs = [*await self.store.active_runs(), *await self.store.ended_since(now - window)]
        redrawn = 0
        for run in runs:
            if not run.channel or await self.cards.refused_recently(run.run_id):
                continue
            ref = await self.cards.get(run.run_id)
            if ref is not None and ref.rendered == card_version(run) and not await self._posts_missing(run):
                continue
            try:
                # Not waiting for a card another worker is drawing: that one is in hand.
                drawn = await self.redraw(run.run_id, wait=False)
            except SLACK_ERRORS as exc:
                if slack_is_away(exc):
                    log.warning("slack.still_unreachable", run_id=run.run_id, error=type(exc).__name__)
                    break
                # This card only (PASS not in the channel, the channel archived …): the next one,
                # and this one is left alone for a while instead of refused again every scan.
                await self.cards.note_refused(run.run_id)
                log.warning("slack.card_refused", run_id=run.run_id, error=_slack_error(exc))
                continue
            except Exception:
                log.exception("slack.catch_up_failed", run_id=run.run_id)
                continue
            if drawn:
                redrawn += 1
                log.info("slack.card_caught_up", run_id=run.run_id, status=run.status.value)
        return redrawn

    def sync_progress(self, run_id: str) -> SyncProgress:
        """A progress callback for the sync job: the card counts issues as they are created,
        redrawn about ten times per sync so a long backlog stays under chat.update's rate tier."""

        async def progress(done: int, total: int) -> None:
            step = max(1, total // 10)
            if done != total and done % step:
                return
            try:
                await self.refresh(run_id, sync_progress=(done, total))
            except SLACK_ERRORS as exc:
                log.warning("slack.progress_update_failed", run_id=run_id, error=_slack_error(exc))

        return progress
