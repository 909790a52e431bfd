"""`/pass …` and `@PASS …` text parsed into a command (pure; no I/O, nothing fetched).

plan <PRD text | link to a file shared in Slack | owner/name:path/to/prd.md> [repo=owner/name]
verify <owner/name>
status [run]
stats [7d|30d]
digest
help            (also for empty or unknown input)

Adding a command: its dataclass (and in `Command`), its parser and help line in `VERBS`, and
its arm in `SlackFlows.run_command` (bot/slack/flows.py), which mypy holds to every command.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from bot.slack.actions import COMMAND

REPO = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}"
_REPO_OPTION = re.compile(rf"(?:^|\s)repo=({REPO})(?=\s|$)")
_GITHUB_PATH = re.compile(rf"^({REPO}):([^\s:]+?)(?:@([\w./-]+))?$")
# Slack wraps links as <url> or <url|label>; a file's permalink is …/files/<user>/<FILE_ID>/<name>.
_LINK = re.compile(r"^<?(https?://[^\s|>]+)(?:\|[^>]*)?>?$")
_FILE_ID = re.compile(r"/files/[A-Z0-9]+/(F[A-Z0-9]+)")
_MENTION = re.compile(r"^\s*<@[A-Z0-9]+(?:\|[^>]*)?>\s*")
_RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_WINDOW = re.compile(r"^[1-9]\d{0,3}[mhdw]$")
_VERB = re.compile(r"(\S*)(?:\s(.*))?\Z", re.DOTALL)


@dataclass(frozen=True)
class InlinePrd:
    text: str


@dataclass(frozen=True)
class SlackFilePrd:
    file_id: str
    url: str


@dataclass(frozen=True)
class GitHubPrd:
    repo: str
    path: str
    ref: str | None = None


PrdSource = InlinePrd | SlackFilePrd | GitHubPrd


@dataclass(frozen=True)
class PlanCommand:
    source: PrdSource
    repo: str | None = None
    kind: Literal["plan"] = "plan"


@dataclass(frozen=True)
class VerifyCommand:
    repo: str
    kind: Literal["verify"] = "verify"


@dataclass(frozen=True)
class StatusCommand:
    run_id: str | None = None
    kind: Literal["status"] = "status"


@dataclass(frozen=True)
class StatsCommand:
    window: str = "7d"
    kind: Literal["stats"] = "stats"


@dataclass(frozen=True)
class DigestCommand:
    kind: Literal["digest"] = "digest"


@dataclass(frozen=True)
class HelpCommand:
    # Why help is shown instead of what was asked ("`/pass plan` needs a PRD"), if anything.
    reason: str | None = None
    kind: Literal["help"] = "help"


Command = PlanCommand | VerifyCommand | StatusCommand | StatsCommand | DigestCommand | HelpCommand


def strip_mention(text: str) -> str:
    """`<@UPASS> plan …` → `plan …`."""
    return _MENTION.sub("", text, count=1)


def _prd_source(rest: str) -> PrdSource | None:
    stripped = rest.strip()
    if not stripped:
        return None
    if "\n" not in stripped and " " not in stripped:
        link = _LINK.match(stripped)
        if link:
            url = link.group(1)
            file_id = _FILE_ID.search(url)
            if file_id:
                return SlackFilePrd(file_id=file_id.group(1), url=url)
        github = _GITHUB_PATH.match(stripped)
        if github:
            return GitHubPrd(repo=github.group(1), path=github.group(2), ref=github.group(3))
    return InlinePrd(text=rest.strip("\n"))


def _plan(rest: str) -> Command:
    repo_match = _REPO_OPTION.search(rest)
    repo = repo_match.group(1) if repo_match else None
    if repo_match:
        rest = rest[: repo_match.start()] + rest[repo_match.end() :]
    source = _prd_source(rest)
    if source is None:
        return HelpCommand("`plan` needs a PRD: paste it, link a file shared in Slack, or give owner/name:path.")
    return PlanCommand(source=source, repo=repo)


def _verify(rest: str) -> Command:
    target = rest.strip()
    if not re.fullmatch(REPO, target):
        return HelpCommand("`verify` needs a repository as owner/name.")
    return VerifyCommand(repo=target)


def _status(rest: str) -> Command:
    run_id = rest.strip() or None
    if run_id is not None and not _RUN_ID.match(run_id):
        return HelpCommand(f"`{run_id[:40]}` is not a run id.")
    return StatusCommand(run_id=run_id)


def _stats(rest: str) -> Command:
    window = rest.strip().lower() or "7d"
    if not _WINDOW.match(window):
        return HelpCommand(f"`stats` takes a window such as 7d or 30d, not `{window[:20]}`.")
    return StatsCommand(window=window)


@dataclass(frozen=True)
class Verb:
    """A word after `/pass`: its line in the help, and how the text after it becomes the command."""

    usage: str
    parse: Callable[[str], Command]


# In the order help lists them. What each command does is `SlackFlows.run_command`.
VERBS: dict[str, Verb] = {
    "plan": Verb(
        f"*`{COMMAND} plan <PRD>`*: plan a PRD pasted as text, a link to a file shared in Slack, or "
        "`owner/name:path/to/prd.md`. Add `repo=owner/name` to choose where issues go.",
        _plan,
    ),
    "status": Verb(f"*`{COMMAND} status [run]`*: one run, or the latest runs in this channel.", _status),
    "stats": Verb(
        f"*`{COMMAND} stats [7d|30d]`*: lead time, verification pass rate, retry loops, token spend, "
        "time to diagnosis.",
        _stats,
    ),
    "digest": Verb(
        f"*`{COMMAND} digest`*: post this channel's digest now (schedules live in policies/digests.yml).",
        lambda rest: DigestCommand(),
    ),
    "verify": Verb(
        f"*`{COMMAND} verify owner/name`*: run the repo's lint, type, test and security checks in the sandbox.",
        _verify,
    ),
    "help": Verb(f"*`{COMMAND} help`*: this message.", lambda rest: HelpCommand()),
}


def parse(text: str) -> Command:
    text = strip_mention(text or "")
    # The verb ends at the first space or newline; a PRD pasted on the next line keeps its lines.
    head = _VERB.match(text.strip())
    assert head is not None  # the pattern matches any string
    word, rest = head.group(1), head.group(2) or ""
    if not word:
        return HelpCommand()
    verb = VERBS.get(word.lower())
    if verb is None:
        return HelpCommand(f"PASS does not know `{word[:40]}`.")
    return verb.parse(rest)
