"""Checks on work items written by a model, before anyone sees them as a proposal.

A model that has read a hostile PRD may echo it: an issue that says the plan is already approved,
one that asks the reader to paste a token in the thread, or one that tells whoever picks it up to
run `curl … | sh`. Such items are refused (and repaired, or shown as errors); they are never
published as they are.

Commands are judged by a `CommandRefusal` function: given one command line it returns why it is
not allowed, or None. The default refuses what no backlog item should ask anyone to run; the
policy module can pass a stricter one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bot.domain.models import WorkItem
from bot.domain.secrets import find_secrets

CommandRefusal = Callable[[str], str | None]

CLAIMS_APPROVAL = "item_claims_approval"
ASKS_CREDENTIALS = "item_asks_credentials"
CONTAINS_SECRET = "item_contains_secret"  # noqa: S105 - a check name, not a secret
COMMAND_OUTSIDE_POLICY = "item_command_outside_policy"


@dataclass(frozen=True)
class ItemProblem:
    check: str
    item_key: str
    message: str


_APPROVAL_CLAIM = re.compile(
    r"\b(?:this|the) (?:plan|backlog|run|issue|item|ticket|work item|change)s? "
    r"(?:is|are|has been|have been|was|were) (?:already |pre-?)?approved\b|"
    r"\b(?:no|without) (?:human )?(?:approval|review|sign-?off) (?:is |being )?"
    r"(?:needed|required|necessary)\b|"
    r"\b(?:skip|bypass|circumvent)\w* (?:the )?(?:human )?(?:approval|review|stop-?line)\b|"
    r"\bauto-?approv\w* (?:this|the) (?:plan|backlog|run|issues?)\b|"
    r"\bapprove (?:this|the) (?:plan|backlog|run) (?:automatically|yourself|now)\b",
    re.IGNORECASE,
)
_CREDENTIAL = (
    r"(?:api[ _-]?keys?|access tokens?|tokens?|passwords?|credentials?|secrets?|private keys?|ssh keys?|"
    r"OPENAI_API_KEY|GITHUB_TOKEN|SLACK_BOT_TOKEN)"
)
_ASKS_CREDENTIALS = re.compile(
    rf"\b(?:paste|share|post|reply with|dm|e-?mail|send (?:us|me|it to)|give (?:us|me))\b[^.\n]{{0,40}}?"
    rf"\b(?:your|the|a|an)\b[^.\n]{{0,20}}?\b{_CREDENTIAL}\b|"
    rf"\b{_CREDENTIAL}\b[^.\n]{{0,40}}?\b(?:in|to|into) (?:this|the) "
    r"(?:thread|channel|issue|comment|chat|slack)\b",
    re.IGNORECASE,
)

_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_FENCE = re.compile(r"^\s*(```|~~~)")
_COMMANDISH = re.compile(r"^\$?\s*(?:sudo\s+)?[a-z][\w.+-]*(?:\s|$)")

_REFUSED_COMMANDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(regex, re.IGNORECASE), reason)
    for regex, reason in (
        (
            r"\|\s*(?:sudo\s+)?(?:ba|z|da|k)?sh\b|\|\s*(?:python3?|perl|ruby|node)\s*(?:-\s*)?$",
            "pipes downloaded text into a shell",
        ),
        (r"(?:^|[;&|]\s*)sudo\b", "runs as root"),
        (
            r"\brm\s+-[a-z]*r[a-z]*\s+(?:-[a-z]+\s+)*(?:/|~|\$HOME|\*|\.\s*$)",
            "deletes recursively outside the work tree",
        ),
        (r"\bchmod\s+(?:-R\s+)?0?777\b", "makes files writable by everyone"),
        (r"\bmkfs\b|\bdd\s+if=|:\(\)\s*\{\s*:\|:&\s*\};:", "destroys a disk or the machine"),
        (r"\bgit\s+push\b[^\n]*(?:\s-f\b|--force)", "force-pushes"),
        (
            r"(?:~|\$HOME|/root|/home/\w+)/\.(?:ssh|aws|netrc|docker|kube|config/gh)\b|/etc/shadow\b",
            "reads credential files",
        ),
        (r"^\$?\s*(?:printenv|env|set|export -p)\s*(?:$|\|)", "dumps the environment"),
        (r"(?-i:\$\{?\w*(?:TOKEN|KEY|SECRET|PASSWORD)\w*\}?)", "uses a secret from the environment"),
        (
            r"\bgh\s+(?:issue|pr)\s+(?:create|merge|close|edit)\b|\bgh\s+api\b",
            "writes to GitHub outside the approved sync",
        ),
        (r"\bpassbot\b[^\n]*\b(?:approve|--yes)\b", "approves a PASS run"),
    )
)


def default_command_refusal(command: str) -> str | None:
    for pattern, reason in _REFUSED_COMMANDS:
        if pattern.search(command):
            return reason
    return None


def check_items(items: list[WorkItem], command_refusal: CommandRefusal = default_command_refusal) -> list[ItemProblem]:
    problems: list[ItemProblem] = []
    for item in items:
        problems.extend(check_item(item, command_refusal))
    return problems


def check_item(item: WorkItem, command_refusal: CommandRefusal = default_command_refusal) -> list[ItemProblem]:
    text = "\n".join([item.title, item.body, *item.acceptance_criteria, item.rationale])
    problems: list[ItemProblem] = []
    if match := _APPROVAL_CLAIM.search(text):
        problems.append(
            ItemProblem(CLAIMS_APPROVAL, item.key, f'claims approval ("{match.group(0)}"); only a person approves')
        )
    if match := _ASKS_CREDENTIALS.search(text):
        problems.append(ItemProblem(ASKS_CREDENTIALS, item.key, f'asks for credentials ("{match.group(0)}")'))
    for kind in dict.fromkeys(hit.named for hit in find_secrets(text)):
        problems.append(ItemProblem(CONTAINS_SECRET, item.key, f"contains what looks like {kind}"))
    for command in commands_in(text):
        reason = command_refusal(command)
        if reason:
            shown = command if len(command) <= 80 else command[:79] + "…"
            problems.append(
                ItemProblem(
                    COMMAND_OUTSIDE_POLICY,
                    item.key,
                    f"contains a command outside policy ({reason}): `{shown}`",
                )
            )
    return problems


def commands_in(text: str) -> Iterator[str]:
    """Command-like lines: inline code spans, lines of fenced blocks, and `$ ` prompts."""
    in_fence = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        stripped = line.strip()
        if in_fence or stripped.startswith("$ "):
            if stripped and _COMMANDISH.match(stripped):
                yield stripped.removeprefix("$ ").strip()
            continue
        for span in _INLINE_CODE.findall(line):
            if _COMMANDISH.match(span.strip()):
                yield span.strip()
