"""Wiring: adapters into services, from one `Settings`. Tests wire their own fakes instead."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.adapters.approval_key import load_approval_key
from bot.adapters.github_files import GitHubFileFetcher
from bot.adapters.github_tracker import GitHubTracker
from bot.adapters.redis_cards import RedisCardStore
from bot.adapters.redis_deliveries import RedisDeliveryClaims
from bot.adapters.redis_server import RedisHandle, connect
from bot.adapters.redis_spend import RedisSpendLedger
from bot.adapters.redis_store import RedisRunStore
from bot.adapters.redis_sync_ledger import RedisSyncLedger
from bot.planner.costs import load_cost_policy
from bot.planner.metered import MeteredLlm
from bot.planner.port import Planner
from bot.policies import Policies, load_policies
from bot.sandbox.command_policy import DEFAULT_COMMANDS_FILE, CommandPolicy, load_command_policy
from bot.sandbox.sandboxed_planner import SandboxedPlanner
from bot.services.approvals import Approvals
from bot.services.audit_recorder import audit_recorder
from bot.services.digest import DigestSender, DigestService
from bot.services.dry_run import DryRunSyncer
from bot.services.github_sync import GitHubSyncer
from bot.services.ports import ApproverDirectory, JobKind, JobQueue, QueueRunJob, Syncer
from bot.services.repo_checks import RepoChecks
from bot.services.runs import RunService
from bot.services.write_pacing import WritePacer
from bot.settings import Settings

if TYPE_CHECKING:  # the Slack SDK and Bolt load only in the processes that talk to Slack
    from slack_sdk.web.async_client import AsyncWebClient

    # The openai package alone takes ~0.5 s to import: only a process with OPENAI_API_KEY loads it.
    from bot.adapters.openai_client import OpenAILlmClient
    from bot.slack.cards import CardStore
    from bot.slack.middleware import DeliveryClaims
    from bot.slack.prd_sources import PrdFetcher


@dataclass
class Container:
    settings: Settings
    policies: Policies
    redis: RedisHandle
    store: RedisRunStore
    planner: Planner
    syncer: Syncer
    runs: RunService
    llm: OpenAILlmClient | None = None
    # The stop-line, built from `runs` so that it works on the same store and policies and its
    # changes reach the same listeners (the cards).
    approvals: Approvals = field(init=False)
    # Where each run's Slack card is, shared by the web process and the workers (beside the runs).
    cards: CardStore = field(init=False)
    # The first delivery of each Slack request (the Slack app drops redeliveries).
    deliveries: DeliveryClaims = field(init=False)

    def __post_init__(self) -> None:
        self.approvals = build_approvals(self.runs)
        self.cards = RedisCardStore(self.store.client)
        self.deliveries = RedisDeliveryClaims(self.store.client)

    async def close(self) -> None:
        if self.llm is not None:
            await self.llm.aclose()
        await self.redis.close()


def build_approvals(
    runs: RunService, *, approvers: ApproverDirectory | None = None, queue_sync: QueueRunJob | None = None
) -> Approvals:
    """The stop-line over the same store, policies and listeners as `runs`. Without `queue_sync` the
    caller starts the sync of an approved run (the CLI does, in the foreground)."""
    return Approvals(
        runs.store,
        runs.policies,
        changed=runs.notify,
        seal_key=runs.approval_key,
        approvers=approvers,
        queue_sync=queue_sync,
    )


def build_slack_approvals(c: Container, client: AsyncWebClient, queue: JobQueue) -> Approvals:
    """The stop-line as Slack clicks reach it: approver groups asked of Slack at each click, and
    the sync queued by the click that completes the approvals."""
    # Here, not at the top: the CLI builds a container too, and does not need the Slack SDK.
    from bot.adapters.slack_approver_directory import SlackApproverDirectory

    async def queue_sync(run_id: str) -> None:
        await queue.enqueue(JobKind.SYNC_RUN, run_id)

    return build_approvals(c.runs, approvers=SlackApproverDirectory(client), queue_sync=queue_sync)


def build_command_policy(settings: Settings) -> CommandPolicy:
    path = settings.policy_dir / "commands.yml"
    return load_command_policy(path if path.exists() else DEFAULT_COMMANDS_FILE)


def build_planner(
    settings: Settings, redis: RedisHandle, store: RedisRunStore, policy: CommandPolicy | None = None
) -> tuple[Planner, OpenAILlmClient | None]:
    """Planning always runs in the sandboxed agent: the OpenAI planner when a key is set (its
    calls made and metered here, where the key and the spend ledger are), else the offline
    heuristic planner."""
    policy = policy if policy is not None else build_command_policy(settings)
    record = audit_recorder(store)
    if not settings.llm_configured:
        return SandboxedPlanner(policy=policy, record=record, planner="heuristic", name="heuristic"), None
    from bot.adapters.openai_client import OpenAILlmClient

    costs = load_cost_policy(settings.policy_dir / "costs.yml")
    llm = OpenAILlmClient.from_settings(settings)
    metered = MeteredLlm(llm, settings.model, costs, ledger=RedisSpendLedger(redis.client))
    planner = SandboxedPlanner(
        policy=policy,
        record=record,
        planner="bot.planner.openai_planner:in_sandbox",
        model=settings.model,
        llm=metered,
        name=f"openai:{settings.model}",
    )
    return planner, llm


def build_syncer(settings: Settings, policies: Policies, store: RedisRunStore, *, dry_run: bool = False) -> Syncer:
    """GitHub when a token is set (and not --dry-run); otherwise the staged backlog goes to disk."""
    if settings.github_configured and not dry_run:
        tracker = GitHubTracker.from_settings(settings)
        pacer = WritePacer(min_interval=policies.limits.github_write_interval_s)
        return GitHubSyncer(tracker, RedisSyncLedger(store), default_repo=settings.github_repo, pacer=pacer)
    reason = "--dry-run" if dry_run else "GITHUB_TOKEN is not set"
    return DryRunSyncer(settings.runs_dir, reason=reason)


def build(settings: Settings, *, dry_run: bool = False, policies: Policies | None = None) -> Container:
    """`policies` replaces those in PASS_POLICY_DIR (`passbot dev` swaps in its approval rule)."""
    policies = policies if policies is not None else load_policies(settings.policy_dir)
    redis = connect(settings.redis_url, settings.data_dir)
    store = RedisRunStore(redis.client)
    commands = build_command_policy(settings)  # read once: the planner and the repo checks share it
    planner, llm = build_planner(settings, redis, store, commands)
    syncer = build_syncer(settings, policies, store, dry_run=dry_run)
    return Container(
        settings=settings,
        policies=policies,
        redis=redis,
        store=store,
        planner=planner,
        syncer=syncer,
        runs=RunService(
            store,
            planner,
            syncer,
            policies,
            repo_checks=RepoChecks.from_settings(settings, commands, store)
            if policies.limits.verify_repo_on_plan
            else None,
            approval_key=load_approval_key(settings),
        ),
        llm=llm,
    )


def build_prd_fetcher(settings: Settings) -> PrdFetcher | None:
    """`owner/name:path` PRDs are read from GitHub when a token is set."""
    return GitHubFileFetcher.from_settings(settings)


def slack_digests(c: Container, client: AsyncWebClient) -> Callable[[], DigestService]:
    """The digest service built on demand (`/pass digest`), posting with the Slack app's client."""
    from bot.adapters.slack_digest_sender import SlackDigestSender

    return lambda: build_digest_service(c, SlackDigestSender(client))


def build_digest_service(c: Container, sender: DigestSender | None = None) -> DigestService:
    """Digests from `policies/digests.yml`, posted with the Slack bot token unless a sender is given.
    The worker ticks `send_due()` every minute; `/pass digest` and the CLI call `send_now()`."""
    from bot.adapters.redis_digest_ledger import RedisDigestLedger
    from bot.adapters.slack_digest_sender import SlackDigestSender
    from bot.digest_policy import load_digest_policy

    return DigestService(
        c.store,
        RedisDigestLedger(c.store.client),
        sender or SlackDigestSender.from_settings(c.settings),
        load_digest_policy(c.settings.policy_dir),
        c.policies.approvals,
    )
