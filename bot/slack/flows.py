"""What each Slack request does once it is acknowledged: one call per listener.

Listeners parse the request, `ack()`, and call one of these. Each answers the person through a
`Reply` (ephemeral: a slash command's response_url, or chat.postEphemeral) and never raises for
something the person can fix; unexpected errors reach the app's global error handler.

`/pass …` and `@PASS …` share one table, `SlackFlows.run_command`; the decisions themselves are
`bot.services.approvals.Approvals`, and starting a run is `bot.services.intake.start_run`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import assert_never

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.metrics import metrics_summary
from bot.domain.models import OnEarlierSync, Run, Source, utcnow
from bot.domain.status import RunStatus
from bot.domain.windows import parse_window
from bot.errors import BadInput, RunNotFound
from bot.logging import get_logger
from bot.policies import SlackTeams
from bot.services.approvals import Approvals
from bot.services.digest import DigestNotSent, DigestService
from bot.services.intake import start_run
from bot.services.ports import JobKind, JobQueue
from bot.services.runs import RunService
from bot.slack.actions import ButtonValue, ModalContext
from bot.slack.answer_blocks import help_message, status_list
from bot.slack.block_kit import Message, message, notice
from bot.slack.card_blocks import status_card
from bot.slack.cards import CardStore
from bot.slack.commands import (
    Command,
    DigestCommand,
    GitHubPrd,
    HelpCommand,
    PlanCommand,
    StatsCommand,
    StatusCommand,
    VerifyCommand,
)
from bot.slack.modal_blocks import reject_modal, select_items_modal
from bot.slack.mrkdwn import esc
from bot.slack.notifier import SlackNotifier
from bot.slack.prd_sources import Asker, PrdSources
from bot.slack.stats_blocks import stats_blocks

log = get_logger(__name__)

Reply = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class Requester:
    """Who asked, and where the answer and the card go."""

    user: str
    channel: str
    team: str = "default"  # the Slack team id (T…) the request came from
    # Set when the request came from a thread (a mention or a shortcut on a threaded message).
    thread_ts: str | None = None


@dataclass(frozen=True)
class CommandRequest:
    """One `/pass …` or `@PASS …`, however it arrived: who asked, and where the answers go."""

    who: Requester
    # Slack's id of this delivery (the slash command's trigger_id, the event's event_id), and the
    # dedupe key made of it: a retried delivery starts no second run.
    request_id: str
    dedupe: str
    # Answers to the command (a slash command's are ephemeral; a mention's go in its thread).
    answer: Reply
    # What only the person who asked should read (a plan's problems).
    private: Reply


@dataclass
class SlackFlows:
    runs: RunService
    approvals: Approvals
    queue: JobQueue
    client: AsyncWebClient
    cards: CardStore
    sources: PrdSources
    notifier: SlackNotifier
    default_repo: str | None = None
    # Builds the digest service (policies/digests.yml) on demand, posting with this app's client.
    digests: Callable[[], DigestService] | None = None
    # Runs started at once by this process. The work after an ack shares the event loop with the
    # acks of requests still arriving; and every run's creation is a transaction on the one audit
    # chain, so many at once mostly retry each other. A few at a time keeps both fast (see
    # bench/slack_ack.py); the others wait, costing nothing, after their ack has gone.
    intake_concurrency: int = 4
    _intake_slots: asyncio.Semaphore = field(init=False, repr=False)
    _home_team: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._intake_slots = asyncio.Semaphore(self.intake_concurrency)

    async def _enqueue_execute(self, run_id: str) -> None:
        await self.queue.enqueue(JobKind.EXECUTE_RUN, run_id)

    # --- the commands -------------------------------------------------------------------------

    async def run_command(self, command: Command, request: CommandRequest) -> None:
        """The one table from a parsed command to what it does, for `/pass` and `@PASS` alike."""
        who, answer = request.who, request.answer
        match command:
            case PlanCommand():
                await self.plan(command, who, dedupe=request.dedupe, reply=request.private)
            case StatusCommand():
                await self.status(command.run_id, who.channel, answer)
            case StatsCommand():
                await self.stats(command.window, answer)
            case DigestCommand():
                await self.digest(who.channel, answer)
            case VerifyCommand():
                await self.verify(command.repo, who, request.request_id, answer)
            case HelpCommand():
                await answer(help_message(command.reason))
            case _:
                assert_never(command)

    # --- starting a run ------------------------------------------------------------------------

    async def plan(self, command: PlanCommand, who: Requester, *, dedupe: str, reply: Reply) -> Run | None:
        """Read the PRD, create the run (once per Slack delivery), post its card, queue the work."""
        async with self._intake_slots:
            return await self._plan(command, who, dedupe=dedupe, reply=reply)

    async def _plan(self, command: PlanCommand, who: Requester, *, dedupe: str, reply: Reply) -> Run | None:
        try:
            raw = await self.sources.read(command.source, Asker(user=who.user, channel=who.channel))
            repo = command.repo
            if repo is None and isinstance(command.source, GitHubPrd):
                repo = command.source.repo
            run, created = await start_run(
                self.runs,
                self._enqueue_execute,
                raw,
                source=Source.SLACK,
                requester=who.user,
                channel=who.channel,
                thread_ts=who.thread_ts,
                repo=repo or self.default_repo,
                dedupe=dedupe,
                workspace=who.team,
                team_id=who.team if who.team != "default" else None,
            )
        except BadInput as exc:
            await reply(notice(f":page_facing_up: {esc(str(exc))}"))
            return None
        if not created:
            log.info("slack.plan_redelivered", run_id=run.run_id, dedupe=dedupe)
            return run
        if await self.cards.get(run.run_id) is None:
            await reply(
                notice(
                    f"Run `{run.run_id}` is planning, but Slack did not take its card here. If PASS is "
                    "not in this channel, invite it (`/invite @PASS`) to see the plan and approve it; "
                    "if Slack is having trouble, the card appears here once Slack is back."
                )
            )
        log.info("slack.plan_queued", run_id=run.run_id, channel=who.channel, requester=who.user)
        return run

    # --- the stop-line -------------------------------------------------------------------------

    async def home_team(self) -> str | None:
        """PASS's own Slack team (auth.test), read once; None while Slack cannot say."""
        if self._home_team is None:
            try:
                response = await self.client.auth_test()
            except SlackApiError:
                log.exception("slack.auth_test_failed")
                return None
            self._home_team = response.get("team_id") or None
        return self._home_team

    async def _teams(self, user_team: str | None) -> SlackTeams:
        return SlackTeams(user=user_team, home=await self.home_team())

    async def approve(
        self,
        value: ButtonValue,
        user: str,
        reply: Reply,
        *,
        user_team: str | None,
        selected: frozenset[str] | None = None,
        on_earlier: OnEarlierSync = "skip",
    ) -> None:
        """`user_team` is the clicker's `user.team_id`: only the run's own team's members count.
        The click that completes the approvals has its sync queued by `Approvals` and hears
        nothing here: the card says it."""
        via = "slack" if selected is None else f"slack (selected {len(selected)} item(s))"
        outcome = await self.approvals.approve(
            value.run_id,
            user=user,
            via=via,
            plan_hash=value.plan_hash,
            selected_keys=selected,
            teams=await self._teams(user_team),
            on_earlier=on_earlier,
        )
        if outcome.now_approved:
            log.info("slack.approved", run_id=value.run_id, user=user)
            return
        mark = ":white_check_mark:" if outcome.accepted else ":no_entry:"
        await reply(notice(f"{mark} {esc(outcome.message)} (run `{esc(value.run_id)}`)"))

    async def reject(self, ctx: ModalContext, user: str, reason: str, reply: Reply, *, user_team: str | None) -> None:
        outcome = await self.approvals.reject(
            ctx.run_id, user=user, reason=reason, via="slack", teams=await self._teams(user_team)
        )
        if not outcome.accepted:
            await reply(notice(f":no_entry: {esc(outcome.message)} (run `{esc(ctx.run_id)}`)"))

    async def open_modal(
        self, value: ButtonValue, *, trigger_id: str, channel: str | None, kind: str, reply: Reply
    ) -> None:
        """Open the reject or choose-items modal, unless the run has already been decided."""
        run = await self.runs.store.get(value.run_id)
        if run.status is not RunStatus.AWAITING_APPROVAL:
            await reply(notice(f"Run `{run.run_id}` is {run.status.value.replace('_', ' ')}; nothing to decide."))
            return
        if run.plan_hash != value.plan_hash:
            await reply(notice("This card shows an older version of the plan; use the current card."))
            return
        ctx = ModalContext(run_id=run.run_id, plan_hash=value.plan_hash, channel=channel)
        view = reject_modal(run, ctx) if kind == "reject" else select_items_modal(run, ctx)
        await self.client.views_open(trigger_id=trigger_id, view=view)

    async def redraw_selection(
        self, ctx: ModalContext, selected: frozenset[str], *, view_id: str, view_hash: str | None
    ) -> None:
        """The items modal again, with the count of what is ticked now. Nothing is decided here:
        a run that moved on is left to the submission to refuse."""
        run = await self.runs.store.get(ctx.run_id)
        if run.status is not RunStatus.AWAITING_APPROVAL or run.plan_hash != ctx.plan_hash:
            return
        try:
            await self.client.views_update(
                view_id=view_id, hash=view_hash, view=select_items_modal(run, ctx, selected=selected)
            )
        except SlackApiError as exc:
            # hash_conflict: a later tick's redraw got there first, and it has the newer count.
            if exc.response.get("error") != "hash_conflict":
                raise
            log.info("slack.selection_redraw_skipped", run_id=ctx.run_id, reason="hash_conflict")

    # --- questions -----------------------------------------------------------------------------

    async def status(self, run_id: str | None, channel: str, reply: Reply) -> None:
        if run_id is None:
            recent = [r for r in await self.runs.store.list_runs(limit=200) if r.channel == channel][:10]
            await reply(status_list(recent, utcnow()))
            return
        try:
            run = await self.runs.store.get(run_id)
        except RunNotFound:
            await reply(notice(f"There is no run `{esc(run_id)}`."))
            return
        await reply(status_card(run, self.notifier.context(run)))

    async def stats(self, window: str, reply: Reply) -> None:
        """The five metrics over the window (lead time, pass rate, retries, tokens, diagnosis)."""
        now = utcnow()
        runs = await self.runs.store.list_runs(limit=100_000, since=now - parse_window(window))
        summary = metrics_summary(runs, window, now=now)
        await reply(message(f"PASS stats, last {window}", stats_blocks(summary)))

    async def digest(self, channel: str, reply: Reply) -> None:
        """Post this channel's digest now (the schedule is not moved)."""
        if self.digests is None:
            await reply(notice("Digests are not available in this PASS deployment."))
            return
        try:
            await self.digests().send_now(channel)
        except DigestNotSent as exc:
            await reply(notice(f":warning: {esc(str(exc))}"))

    async def verify(self, repo: str, who: Requester, request_id: str, reply: Reply) -> None:
        """Queue the repo's checks; the worker reports the findings to this person, here."""
        await self.queue.enqueue(JobKind.VERIFY_REPO, request_id, repo=repo, channel=who.channel, user=who.user)
        await reply(
            notice(
                f":hourglass_flowing_sand: Checking `{esc(repo)}` in the sandbox (lint, types, tests, security). "
                "The findings will appear here, only for you."
            )
        )
