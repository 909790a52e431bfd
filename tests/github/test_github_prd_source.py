"""`/pass plan owner/name:path` asks GitHub whether the repo is private before reading it."""

from __future__ import annotations

import pytest
from fake_github_api import FakeGitHub
from github_sync_fakes import TOKEN

from bot.adapters.github_files import GitHubFileFetcher
from bot.errors import BadInput


async def test_a_prd_source_repo_counts_as_private_unless_github_says_public(github: FakeGitHub) -> None:
    github.add_repo("acme/open")
    github.add_repo("acme/closed", private=True)
    fetcher = GitHubFileFetcher(token=TOKEN, base_url=github.base_url, timeout=2)

    assert await fetcher.is_private("acme/open") is False
    assert await fetcher.is_private("acme/closed") is True
    with pytest.raises(BadInput, match="HTTP 404"):
        await fetcher.is_private("acme/missing")
