"""Repo verification as a use case: `passbot verify`, and `/pass verify` through the worker.

It wraps `bot.verify.repo.verify_repo` with this deployment's command policy, audit log, clone
token and git host, so both entry points verify the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from bot.sandbox.command_policy import CommandPolicy
from bot.services.audit_recorder import audit_recorder
from bot.services.ports import RunStore
from bot.settings import Settings
from bot.verify.repo import RepoVerification, verify_repo


def git_base_url(api_url: str) -> str:
    """github.com's API is api.github.com; Enterprise serves it under <host>/api/v3."""
    if "api.github.com" in api_url:
        return "https://github.com"
    return api_url.split("/api/")[0].rstrip("/")


@dataclass
class RepoChecks:
    policy: CommandPolicy
    store: RunStore
    clone_token: SecretStr | None = None
    git_base_url: str = "https://github.com"
    # Never visible to a repo's code, even under a bound toolchain: the embedded Redis socket and AOF.
    hidden: tuple[Path, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings, policy: CommandPolicy, store: RunStore) -> RepoChecks:
        return cls(policy, store, settings.github_token, git_base_url(settings.github_api_url), (settings.data_dir,))

    async def verify(self, target: str | Path) -> RepoVerification:
        return await verify_repo(
            target,
            self.policy,
            record=audit_recorder(self.store),
            clone_token=self.clone_token,
            git_base_url=self.git_base_url,
            hidden=self.hidden,
        )
