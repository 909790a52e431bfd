"""Approver groups as Slack user groups, looked up when someone clicks (usergroups.users.list)."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logging import get_logger

log = get_logger(__name__)


class SlackApproverDirectory:
    """The `ApproverDirectory` of a Slack workspace: membership is asked of Slack at each click,
    never kept, so someone removed from a group cannot approve a moment later."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def member_of(self, user: str, groups: Sequence[str]) -> frozenset[str]:
        found: set[str] = set()
        for group in groups:
            try:
                response = await self._client.usergroups_users_list(usergroup=group)
            except SlackApiError:
                # Fail closed: Slack not answering makes no one a member.
                log.exception("slack.usergroup_lookup_failed", usergroup=group)
                continue
            if user in (response.get("users") or []):
                found.add(group)
        return frozenset(found)
