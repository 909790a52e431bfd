"""Which of the policy's approver groups a person is in (Slack user groups, looked up on click)."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logging import get_logger
from bot.policies import ApprovalRule

log = get_logger(__name__)


async def approver_groups(client: AsyncWebClient, rule: ApprovalRule, user: str) -> frozenset[str]:
    """The groups named by `rule` that `user` belongs to. Looked up only when the policy names
    groups and does not already allow the person by id; a failed lookup counts as not a member
    (fail closed), and is logged."""
    if not rule.allow_groups or "*" in rule.allow_users or user in rule.allow_users:
        return frozenset()
    member_of: set[str] = set()
    for group in rule.allow_groups:
        try:
            response = await client.usergroups_users_list(usergroup=group)
        except SlackApiError:
            log.exception("slack.usergroup_lookup_failed", usergroup=group)
            continue
        if user in (response.get("users") or []):
            member_of.add(group)
    return frozenset(member_of)
