"""Reads a PRD file from a repository at a commit (the GitHub push trigger, `/pass plan owner/name:path`)."""

from __future__ import annotations

import asyncio

import requests
from github import Auth, Github, GithubException

from bot.errors import BadInput, UpstreamUnavailable
from bot.settings import Settings


class GitHubFileFetcher:
    def __init__(self, *, token: str, base_url: str, timeout: int = 15) -> None:
        # retry=None: PASS decides about retries; reads here are single, cheap and idempotent.
        self._gh = Github(base_url=base_url, auth=Auth.Token(token), timeout=timeout, retry=None)

    @classmethod
    def from_settings(cls, settings: Settings) -> GitHubFileFetcher | None:
        if not settings.github_configured or settings.github_token is None:
            return None
        return cls(token=settings.github_token.get_secret_value(), base_url=settings.github_api_url)

    async def is_private(self, repo: str) -> bool:
        """True unless the repository is public (GitHub's private and internal both count)."""

        def read() -> bool:
            return bool(self._gh.get_repo(repo).private)

        try:
            return await asyncio.to_thread(read)
        except GithubException as exc:
            raise BadInput(f"cannot read {repo} from GitHub (HTTP {exc.status})") from exc
        except requests.RequestException as exc:
            raise UpstreamUnavailable(f"GitHub did not answer about {repo} ({type(exc).__name__})") from exc

    async def fetch(self, repo: str, path: str, ref: str) -> bytes:
        def read() -> bytes:
            contents = self._gh.get_repo(repo).get_contents(path, ref=ref)
            if isinstance(contents, list):
                raise BadInput(f"{repo}:{path} is a directory, not a PRD file")
            data: bytes = contents.decoded_content
            return data

        try:
            return await asyncio.to_thread(read)
        except GithubException as exc:
            raise BadInput(f"cannot read {repo}:{path}@{ref[:12]} from GitHub (HTTP {exc.status})") from exc
        except requests.RequestException as exc:
            raise UpstreamUnavailable(
                f"GitHub did not answer while reading {repo}:{path} ({type(exc).__name__})"
            ) from exc
