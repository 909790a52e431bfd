"""GitHub issues through PyGithub, behind the IssueTracker port.

PyGithub is synchronous, so every call runs in a worker thread. Its own retry is OFF
(`retry=None`): by default it retries a POST that failed with a 5xx, which creates a duplicate
issue when GitHub stored the first attempt. PASS owns retries and pacing (write_pacing.py), and
looks for the issue's marker before writing again. PyGithub's write throttle is off for the same
reason; its gentle read spacing stays.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from github import Auth, Github, GithubException
from github.Milestone import Milestone
from github.Repository import Repository

from bot.errors import ConfigError
from bot.services.issue_tracker import (
    RepoInfo,
    TokenInfo,
    TrackedIssue,
    TrackerAuthError,
    TrackerError,
    TrackerForbidden,
    TrackerNotFound,
    TrackerRateLimited,
    TrackerRejected,
    TrackerUnavailable,
)
from bot.settings import Settings

T = TypeVar("T")

_ROLES = ("pull", "triage", "push", "maintain", "admin")
_SECONDARY_LIMIT_ENDINGS = (
    "please retry your request again later.",
    "please wait a few minutes before you try again.",
)


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:  # Retry-After may be an HTTP date; GitHub sends seconds, so ignore the rest
        return None


def _is_rate_limit(status: int, message: str, headers: dict[str, str]) -> bool:
    lowered = message.lower()
    return (
        status == 429
        or "retry-after" in headers
        or headers.get("x-ratelimit-remaining") == "0"
        or lowered.startswith(("api rate limit exceeded", "you have exceeded a secondary rate limit"))
        or lowered.endswith(_SECONDARY_LIMIT_ENDINGS)
    )


def translate(exc: GithubException) -> TrackerError:
    """PyGithub's exception as one of the port's, keeping GitHub's message and the retry hints."""
    headers = {k.lower(): str(v) for k, v in (exc.headers or {}).items()}
    data: Any = exc.data
    message = str(data.get("message", "")) if isinstance(data, dict) else ""
    status = exc.status
    text = f"GitHub answered {status}: {message or 'no message'}"
    if status == 401:
        return TrackerAuthError(text, status=status)
    if status == 404:
        return TrackerNotFound(text, status=status)
    if status in (403, 429) and _is_rate_limit(status, message, headers):
        remaining = _number(headers.get("x-ratelimit-remaining"))
        return TrackerRateLimited(
            text,
            status=status,
            retry_after=_number(headers.get("retry-after")),
            reset_at=_number(headers.get("x-ratelimit-reset")),
            remaining=int(remaining) if remaining is not None else None,
        )
    if status == 403:
        return TrackerForbidden(text, status=status)
    if status >= 500:
        return TrackerUnavailable(text, status=status)
    errors = data.get("errors") if isinstance(data, dict) else None
    return TrackerRejected(f"{text} {errors}" if errors else text, status=status)


class GitHubTracker:
    """github.com or GitHub Enterprise (`base_url` https://HOST/api/v3), with any PyGithub auth."""

    def __init__(
        self,
        *,
        auth: Auth.Auth,
        base_url: str = "https://api.github.com",
        timeout: int = 15,
        seconds_between_requests: float = 0.25,
        per_page: int = 100,
    ) -> None:
        self._api_url = base_url.rstrip("/")
        self._github = Github(
            base_url=self._api_url,
            auth=auth,
            timeout=timeout,
            retry=None,
            per_page=per_page,
            seconds_between_requests=seconds_between_requests,
            seconds_between_writes=0,
            lazy=True,
        )
        self._milestones: dict[tuple[str, int], Milestone] = {}

    @classmethod
    def from_settings(cls, settings: Settings, *, timeout: int = 15) -> GitHubTracker:
        if settings.github_token is None or not settings.github_token.get_secret_value():
            raise ConfigError("GITHUB_TOKEN is not set: GitHub sync needs a token")
        return cls(
            auth=Auth.Token(settings.github_token.get_secret_value()),
            base_url=settings.github_api_url,
            timeout=timeout,
        )

    @property
    def api_url(self) -> str:
        return self._api_url

    async def _call(self, fn: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(fn)
        except GithubException as exc:
            error: TrackerError = translate(exc)
            error.api_url = self._api_url
            raise error from exc
        except requests.RequestException as exc:
            # A timeout or a dropped connection: for a write, GitHub may or may not have stored it.
            error = TrackerUnavailable(f"no answer from GitHub ({type(exc).__name__})")
            error.api_url = self._api_url
            raise error from exc

    def _repo(self, full_name: str) -> Repository:
        return self._github.get_repo(full_name)  # lazy: no request until an attribute is read

    async def whoami(self) -> TokenInfo:
        def fetch() -> TokenInfo:
            login = self._github.get_user().login
            scopes = self._github.oauth_scopes
            return TokenInfo(login=login, scopes=tuple(s.strip() for s in scopes if s.strip()) if scopes else None)

        try:
            return await self._call(fetch)
        except TrackerForbidden:
            # GitHub App installation tokens may not read /user; the token itself was accepted.
            return TokenInfo(login=None, scopes=None)

    async def repo(self, full_name: str) -> RepoInfo:
        def fetch() -> RepoInfo:
            repo = self._repo(full_name)
            permissions = repo.permissions
            roles = (
                frozenset(role for role in _ROLES if getattr(permissions, role, False))
                if permissions is not None
                else None
            )
            return RepoInfo(
                full_name=repo.full_name,
                private=bool(repo.private),
                has_issues=bool(repo.has_issues),
                archived=bool(repo.archived),
                html_url=repo.html_url,
                permissions=roles,
            )

        return await self._call(fetch)

    async def label_names(self, full_name: str) -> set[str]:
        return await self._call(lambda: {label.name for label in self._repo(full_name).get_labels()})

    async def create_label(self, full_name: str, name: str, color: str, description: str) -> None:
        await self._call(lambda: self._repo(full_name).create_label(name, color, description))

    async def issues_with_label(self, full_name: str, label: str) -> list[TrackedIssue]:
        def fetch() -> list[TrackedIssue]:
            issues = self._repo(full_name).get_issues(state="all", labels=[label], sort="created", direction="desc")
            return [
                TrackedIssue(number=i.number, url=i.html_url, title=i.title, body=i.body or "")
                for i in issues
                # The issues list includes pull requests. (Not `i.pull_request`: reading an attribute the
                # list left out makes PyGithub fetch each issue again.)
                if "/pull/" not in i.html_url
            ]

        return await self._call(fetch)

    async def milestone_number(self, full_name: str, title: str) -> int | None:
        def fetch() -> int | None:
            for milestone in self._repo(full_name).get_milestones(state="all"):
                if milestone.title == title:
                    self._milestones[(full_name, milestone.number)] = milestone
                    return milestone.number
            return None

        return await self._call(fetch)

    async def create_milestone(self, full_name: str, title: str) -> int:
        def create() -> int:
            milestone = self._repo(full_name).create_milestone(title)
            self._milestones[(full_name, milestone.number)] = milestone
            return milestone.number

        return await self._call(create)

    async def create_issue(
        self, full_name: str, *, title: str, body: str, labels: list[str], milestone: int | None
    ) -> TrackedIssue:
        def create() -> TrackedIssue:
            repo = self._repo(full_name)
            if milestone is None:
                issue = repo.create_issue(title=title, body=body, labels=labels)
            else:
                issue = repo.create_issue(
                    title=title,
                    body=body,
                    labels=labels,
                    milestone=self._milestone(repo, full_name, milestone),
                )
            return TrackedIssue(number=issue.number, url=issue.html_url, title=issue.title, body=issue.body or "")

        return await self._call(create)

    async def update_issue(
        self, full_name: str, number: int, *, title: str, body: str, labels: list[str]
    ) -> TrackedIssue:
        def update() -> TrackedIssue:
            issue = self._repo(full_name).get_issue(number)
            issue.edit(title=title, body=body, labels=labels)
            return TrackedIssue(number=issue.number, url=issue.html_url, title=issue.title, body=issue.body or "")

        return await self._call(update)

    def _milestone(self, repo: Repository, full_name: str, number: int) -> Milestone:
        cached = self._milestones.get((full_name, number))
        if cached is None:
            cached = repo.get_milestone(number)
            _ = cached.title  # completes the lazy object: PyGithub sends its number from the fetched data
            self._milestones[(full_name, number)] = cached
        return cached
