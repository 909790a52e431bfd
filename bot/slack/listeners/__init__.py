"""Bolt listeners, one module per kind of Slack request, each with `register(app, flows)`.

Every listener is short: parse the request into a model, `await ack()`, make one call into
`bot.slack.flows`. Nothing slow happens before the ack.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.flows import SlackFlows
from bot.slack.listeners import actions, commands, events, shortcuts, views


def register_all(app: AsyncApp, flows: SlackFlows) -> None:
    for module in (commands, actions, views, events, shortcuts):
        module.register(app, flows)
