"""Reads the PRD a `/pass plan` names: pasted text, a file shared in Slack, or a file in a repo.

Called after the ack (these are network reads). Anything the person can fix is a `BadInput` with
the fix, answered ephemerally.

PASS reads with its own tokens, and the plan made from the PRD is posted where it was asked. So
a source is read only when the people there may read it anyway: a Slack file shared in that
channel (or shared by the requester), a public repo, or a private repo that `policies/sources.yml`
allows for that channel. Otherwise `/pass plan` would let anyone read what PASS can.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import BadInput
from bot.policies import SourcePolicy
from bot.slack.commands import GitHubPrd, InlinePrd, PrdSource, SlackFilePrd

# Hosts that may receive the bot token when downloading a shared file.
_SLACK_FILE_HOSTS = ("slack.com", "slack-edge.com")


class PrdFetcher(Protocol):
    async def fetch(self, repo: str, path: str, ref: str) -> bytes: ...

    async def is_private(self, repo: str) -> bool:
        """True for a private or internal repository (anything not readable by everyone)."""
        ...


@dataclass(frozen=True)
class Asker:
    """Who asked for the PRD, and the channel its plan will be shown in."""

    user: str
    channel: str


def file_visible_to(meta: dict[str, Any], asker: Asker) -> bool:
    """Is the Slack file (files.info's `file`) one the asker's channel may see? Pure.

    Its own sharer may use it anywhere (sharing it is their call); anyone else only where it is
    already shared: the channel the command came from is one of its channels, groups or DMs.
    """
    if meta.get("user") and meta.get("user") == asker.user:
        return True
    shared_in: set[str] = set()
    for key in ("channels", "groups", "ims"):
        shared_in.update(str(c) for c in meta.get(key) or [])
    for places in (meta.get("shares") or {}).values():
        shared_in.update(str(c) for c in places or {})
    return asker.channel in shared_in


def unescape_slack(text: str) -> str:
    """Slack sends &, < and > in message text as entities; a PRD wants them back."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


class PrdSources:
    def __init__(
        self,
        client: AsyncWebClient,
        *,
        github: PrdFetcher | None,
        max_bytes: int,
        policy: SourcePolicy | None = None,
        timeout_s: float = 20,
    ) -> None:
        self.client = client
        self.github = github
        self.max_bytes = max_bytes
        self.policy = policy or SourcePolicy()
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def read(self, source: PrdSource, asker: Asker) -> bytes:
        if isinstance(source, InlinePrd):
            return unescape_slack(source.text).encode()
        if isinstance(source, SlackFilePrd):
            return await self._slack_file(source, asker)
        return await self._github_file(source, asker)

    async def _github_file(self, source: GitHubPrd, asker: Asker) -> bytes:
        if self.github is None:
            raise BadInput(
                f"Reading `{source.repo}:{source.path}` needs GITHUB_TOKEN on the PASS server (a token "
                "that can read that repo). Until then, paste the PRD or share it as a file."
            )
        if await self.github.is_private(source.repo) and not self.policy.allows_private(asker.channel, source.repo):
            raise BadInput(
                f"`{source.repo}` is a private repository, and PASS reads private repositories only for "
                "the channels its policy allows (`private_repos` in policies/sources.yml), since the plan "
                "is shown here. Paste the PRD or share it as a file in this channel, or ask whoever runs "
                f"PASS to allow `{source.repo}` for this channel."
            )
        return await self.github.fetch(source.repo, source.path, source.ref or "HEAD")

    async def _slack_file(self, source: SlackFilePrd, asker: Asker) -> bytes:
        try:
            info = await self.client.files_info(file=source.file_id)
        except SlackApiError as exc:
            error = exc.response.get("error", "unknown_error")
            hint = " Is PASS in the channel the file was shared in, with the files:read scope?"
            raise BadInput(f"PASS cannot open that file (Slack said `{error}`).{hint}") from exc
        meta = info.get("file") or {}
        if not file_visible_to(meta, asker):
            raise BadInput(
                "That file is not shared in this channel, so PASS will not read it here (the plan "
                "would show its content to this channel). Share the file in this channel first, or "
                "run `/pass plan` in a channel where it is shared."
            )
        size = int(meta.get("size") or 0)
        if size > self.max_bytes:
            raise BadInput(f"That file is {size:,} bytes; PASS reads PRDs up to {self.max_bytes:,} bytes.")
        url = str(meta.get("url_private_download") or meta.get("url_private") or "")
        if not url or not self._may_send_token(url):
            raise BadInput("PASS cannot download that file: Slack gave no download link for it.")
        assert self.client.token is not None
        headers = {"Authorization": f"Bearer {self.client.token}"}
        async with (
            aiohttp.ClientSession(timeout=self.timeout) as session,
            session.get(url, headers=headers) as response,
        ):
            if response.status != 200:
                raise BadInput(f"Downloading that file failed (HTTP {response.status}).")
            data = await response.content.read(self.max_bytes + 1)
        if len(data) > self.max_bytes:
            raise BadInput(f"That file is over {self.max_bytes:,} bytes, the largest PRD PASS reads.")
        return data

    def _may_send_token(self, url: str) -> bool:
        """The bot token goes only to Slack's own hosts (or the Web API host PASS is pointed at)."""
        host = urlsplit(url).hostname or ""
        api_host = urlsplit(self.client.base_url).hostname or ""
        if urlsplit(url).scheme != "https" and host != api_host:
            return False
        return host == api_host or any(host == h or host.endswith("." + h) for h in _SLACK_FILE_HOSTS)
