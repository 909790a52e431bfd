"""The Slack app: a Bolt `AsyncApp` built from the container and the job queue.

    slack = build_slack_app(container, queue)        # slack.bolt: HTTP or Socket Mode
    container.runs.add_listener(slack.notifier)      # cards follow the runs

Bolt verifies every HTTP request (signature, 5-minute window) before any listener sees it, and
answers 401 when that fails. Listeners ack first and enqueue; see bot/slack/listeners/.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.bootstrap import Container, build_prd_fetcher, build_slack_approvals, slack_digests
from bot.errors import ConfigError
from bot.services.ports import JobQueue
from bot.slack.client import build_web_client
from bot.slack.errors import handle_error
from bot.slack.flows import SlackFlows
from bot.slack.listeners import register_all
from bot.slack.middleware import drop_redeliveries
from bot.slack.notifier import SlackNotifier
from bot.slack.prd_sources import PrdFetcher, PrdSources


@dataclass(frozen=True)
class SlackApp:
    bolt: AsyncApp
    flows: SlackFlows
    # What /slack/events checks each request's signature with (empty in Socket Mode).
    signing_secret: str = field(default="", repr=False)

    @property
    def notifier(self) -> SlackNotifier:
        return self.flows.notifier


AUTHORIZE_FAILED = (
    ":warning: PASS could not check its Slack installation (Slack's API did not answer, or the bot token "
    "was refused). Nothing was started. Try again in a minute; if it keeps happening, ask an admin to "
    "run `passbot doctor` and check SLACK_BOT_TOKEN."
)


class _SameTokenTwice(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment by itself and warns that "`token` will be
    unused" beside our client, which PASS built from that same variable: nothing is skipped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


_BOLT_LOGGER = logging.getLogger(f"slack_bolt.{AsyncApp.__name__}")
if not any(isinstance(f, _SameTokenTwice) for f in _BOLT_LOGGER.filters):
    _BOLT_LOGGER.addFilter(_SameTokenTwice())


def build_slack_app(
    container: Container,
    queue: JobQueue,
    *,
    client: AsyncWebClient | None = None,
    github: PrdFetcher | None = None,
    socket_mode: bool = False,
    process_before_response: bool = False,
) -> SlackApp:
    """`process_before_response=True` holds the HTTP answer until the listener has finished (after
    its ack): for FaaS hosts, and for tests that need the work done when the response arrives."""
    settings = container.settings
    client = client or build_web_client(settings)
    if client is None:
        raise ConfigError("SLACK_BOT_TOKEN is not set: the Slack app needs the bot token (xoxb-…)")
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    if not secret and not socket_mode:
        raise ConfigError("SLACK_SIGNING_SECRET is not set: HTTP mode needs it to verify Slack's requests")
    app = AsyncApp(
        name="pass",
        client=client,
        signing_secret=secret,
        process_before_response=process_before_response,
        # Bolt checks the token with auth.test on the first request; its own text for a failure
        # ("reinstall this app") is wrong when Slack's API is only down for a moment.
        user_facing_authorize_error_message=AUTHORIZE_FAILED,
    )
    cards = container.cards
    notifier = SlackNotifier(client, container.store, cards, container.policies)
    fetcher = github if github is not None else build_prd_fetcher(settings)
    flows = SlackFlows(
        runs=container.runs,
        approvals=build_slack_approvals(container, client, queue),
        queue=queue,
        client=client,
        cards=cards,
        sources=PrdSources(
            client,
            github=fetcher,
            max_bytes=container.policies.limits.max_prd_bytes,
            policy=container.policies.sources,
        ),
        notifier=notifier,
        default_repo=settings.github_repo,
        digests=slack_digests(container, client),
    )
    app.use(drop_redeliveries(container.deliveries))

    @app.error
    async def on_error(
        error: Exception, body: dict[str, Any], client: AsyncWebClient, response: BoltResponse | None
    ) -> BoltResponse | None:
        await handle_error(error, body, client)
        # The person has been told; Slack should not show its own error on top. (`response` is None
        # when the listener had already acked: that answer has gone.)
        return BoltResponse(status=200, body="") if response is not None else None

    register_all(app, flows)
    return SlackApp(bolt=app, flows=flows, signing_secret=secret)
