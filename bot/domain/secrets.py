"""Secret detection for text that will be published (GitHub issues, Slack, files, logs, an LLM prompt).

The rules come from maintained detectors (gitleaks' rules and detect-secrets' plugins, see
bot/domain/secret_rules.py). Every rule is anchored on a real token shape or a credential
position (a URL's password, a named AWS secret), so ordinary words such as "task-master" or
"sk-learn" never match.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from bot.domain.secret_rules import all_rules, shannon_entropy

__all__ = ["SecretHit", "find_secrets", "redact", "redact_strings", "shannon_entropy"]


@dataclass(frozen=True)
class SecretHit:
    rule_id: str
    description: str
    start: int
    end: int
    shown_prefix: int = 4
    source: str = ""  # the rule set that found it: gitleaks, detect-secrets or pass

    def redacted_preview(self, text: str) -> str:
        token = text[self.start : self.end]
        return token[: self.shown_prefix] + "…" + f"({len(token)} chars)"

    @property
    def named(self) -> str:
        """ "a Stripe Access Key", "an AWS secret access key": the kind, with its article."""
        article = "an" if self.description[:1].lower() in "aeiou" else "a"
        return f"{article} {self.description}"


# One run's texts are scanned several times (verification, the guard, each rendering, the logs):
# the scan of a text is kept for its next look. Whole files (`passbot verify`) are not kept.
CACHED_TEXT_CHARS = 64_000


def find_secrets(text: str) -> list[SecretHit]:
    if not text:
        return []
    return list(_cached_scan(text) if len(text) <= CACHED_TEXT_CHARS else _scan(text))


@functools.lru_cache(maxsize=512)
def _cached_scan(text: str) -> tuple[SecretHit, ...]:
    return _scan(text)


def _scan(text: str) -> tuple[SecretHit, ...]:
    lowered = text.lower()
    hits: list[SecretHit] = []
    for rule in all_rules():
        if not rule.applies_to(lowered):
            continue
        for match in rule.pattern.finditer(text):
            span = rule.secret_span(match)
            if span is None:
                continue
            start, end = _whole_token(text, *span)
            if any(h.start < end and start < h.end for h in hits):
                continue
            if not rule.keeps(text[start:end]):
                continue
            hits.append(SecretHit(rule.id, rule.description, start, end, rule.shown_prefix, rule.source))
    return tuple(sorted(hits, key=lambda h: h.start))


_TOKEN_TAIL = re.compile(r"[A-Za-z0-9_-]*")


def _whole_token(text: str, start: int, end: int) -> tuple[int, int]:
    """A match widened to the end of the token it stops inside: detect-secrets' Stripe pattern
    takes 24 characters of a key that can have 99, and the rest must not be left showing."""
    if end < len(text) and text[end - 1].isalnum():
        tail = _TOKEN_TAIL.match(text, end)
        if tail is not None:
            return start, tail.end()
    return start, end


def redact(text: str) -> str:
    """The text with every secret replaced by a marker naming its kind."""
    out: list[str] = []
    last = 0
    for hit in find_secrets(text):
        out.append(text[last : hit.start])
        out.append(f"[redacted {hit.rule_id}]")
        last = hit.end
    out.append(text[last:])
    return "".join(out)


def redact_strings(value: Any) -> Any:
    """A JSON-shaped value (dicts, lists, strings) with every string redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_strings(item) for item in value]
    return value
