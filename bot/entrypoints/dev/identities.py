"""Who is in the dev workspace. Ids have Slack's shapes, so PASS renders them as mentions."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DevUser:
    id: str
    name: str
    # What the person is for when trying the approval policy (shown beside the user switcher).
    role: str


@dataclass(frozen=True)
class UserGroup:
    id: str
    handle: str
    members: tuple[str, ...]


TEAM_ID = "T0PASSDEV"
TEAM_DOMAIN = "pass-dev"
APP_ID = "A0PASSDEV"
BOT_USER = "U0PASSBOT"
BOT_ID = "B0PASSBOT"
BOT_NAME = "PASS"
CHANNEL_ID = "C0PLANNING"
CHANNEL_NAME = "planning"

ALICE = DevUser("U0ALICE", "alice", "requester")
BOB = DevUser("U0BOB", "bob", "approver")
MALLORY = DevUser("U0MALLORY", "mallory", "not an approver")
USERS = (ALICE, BOB, MALLORY)
# bot/entrypoints/dev/policies/approvals.yml lets this group approve.
APPROVERS = UserGroup("S0APPROVERS", "approvers", (ALICE.id, BOB.id))
GROUPS = (APPROVERS,)
