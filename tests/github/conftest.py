"""Fixtures for the GitHub sync tests: a fake GitHub on loopback and a syncer on real PyGithub."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fake_github_api import FakeGitHub
from github_sync_fakes import REPO, TOKEN, MemoryLedger, SyncerFactory, make_tracker, thread_link

from bot.services.github_sync import GitHubSyncer, SyncLedger
from bot.services.write_pacing import RetryPolicy, WritePacer


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    fake = FakeGitHub()
    fake.add_token(TOKEN)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
def ledger() -> MemoryLedger:
    return MemoryLedger()


@pytest.fixture
def make_syncer(github: FakeGitHub, ledger: MemoryLedger) -> SyncerFactory:
    def build(
        *,
        use_ledger: SyncLedger | None = None,
        pacer: WritePacer | None = None,
        token: str = TOKEN,
        milestone: str | None = None,
    ) -> GitHubSyncer:
        return GitHubSyncer(
            make_tracker(github, token),
            use_ledger or ledger,
            default_repo=REPO,
            thread_link=thread_link,
            milestone=milestone,
            pacer=pacer or WritePacer(min_interval=0.0, limits=()),
            # Waits that come from GitHub's headers are honoured for real; the fallbacks are short.
            retry_policy=RetryPolicy(max_attempts=4, fallback_wait=0.05, unavailable_wait=0.05, reset_margin=0.0),
        )

    return build
