"""The issue-tracker port the GitHub sync is written against, and the errors it raises.

    TrackerError              the tracker refused or failed a call (PassError)
    ├── TrackerAuthError      401: the token is wrong, expired or revoked
    ├── TrackerNotFound       404: no such repository, or not visible to this token
    ├── TrackerForbidden      403 that is not a rate limit: a missing scope or permission
    ├── TrackerRateLimited    403/429 from a primary or secondary rate limit; says when to retry
    ├── TrackerUnavailable    5xx, timeout, dropped connection: a write's outcome is UNKNOWN
    └── TrackerRejected       any other 4xx (422 validation): retrying will not help

Messages carry GitHub's own message, never the token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.errors import PassError


class TrackerError(PassError):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        # Filled in on the way up, so a failure can say what was tried: which API, how many
        # attempts of the call that gave up, over how many seconds.
        self.api_url: str | None = None
        self.attempts = 1
        self.tried_for_s = 0.0


class TrackerAuthError(TrackerError):
    pass


class TrackerNotFound(TrackerError):
    pass


class TrackerForbidden(TrackerError):
    pass


class TrackerRateLimited(TrackerError):
    def __init__(
        self,
        message: str,
        *,
        status: int,
        retry_after: float | None,
        reset_at: float | None,
        remaining: int | None,
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after  # seconds, from Retry-After
        self.reset_at = reset_at  # UTC epoch seconds, from x-ratelimit-reset
        self.remaining = remaining  # from x-ratelimit-remaining


class TrackerUnavailable(TrackerError):
    pass


class TrackerRejected(TrackerError):
    pass


@dataclass(frozen=True)
class TokenInfo:
    login: str | None  # None for tokens that cannot read /user (GitHub App installations)
    # Classic tokens report their scopes (X-OAuth-Scopes); fine-grained and App tokens do not.
    scopes: tuple[str, ...] | None


@dataclass(frozen=True)
class RepoInfo:
    full_name: str
    private: bool
    has_issues: bool
    archived: bool
    html_url: str
    # The caller's role on the repo (pull/triage/push/maintain/admin), when GitHub says.
    permissions: frozenset[str] | None


@dataclass(frozen=True)
class TrackedIssue:
    number: int
    url: str
    title: str
    body: str


class IssueTracker(Protocol):
    """An issue tracker (GitHub). Every method is one logical call; none retries by itself."""

    @property
    def api_url(self) -> str: ...

    async def whoami(self) -> TokenInfo: ...

    async def repo(self, full_name: str) -> RepoInfo: ...

    async def label_names(self, full_name: str) -> set[str]: ...

    async def create_label(self, full_name: str, name: str, color: str, description: str) -> None: ...

    async def issues_with_label(self, full_name: str, label: str) -> list[TrackedIssue]:
        """Every issue (open or closed, newest first) carrying `label`."""
        ...

    async def milestone_number(self, full_name: str, title: str) -> int | None: ...

    async def create_milestone(self, full_name: str, title: str) -> int: ...

    async def create_issue(
        self, full_name: str, *, title: str, body: str, labels: list[str], milestone: int | None
    ) -> TrackedIssue: ...

    async def update_issue(
        self, full_name: str, number: int, *, title: str, body: str, labels: list[str]
    ) -> TrackedIssue: ...
