"""Secret detection for text that will be published (GitHub issues, Slack, an LLM prompt).

Rules are taken from gitleaks' default config (gitleaks/gitleaks config/gitleaks.toml @ b58d3f1,
MIT), with its entropy thresholds, plus AWS access keys. Each rule is anchored on a real token
prefix, so ordinary words such as "task-master" or "sk-learn" never match.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class SecretRule:
    id: str
    description: str
    pattern: re.Pattern[str]
    min_entropy: float = 0.0


@dataclass(frozen=True)
class SecretHit:
    rule_id: str
    description: str
    start: int
    end: int

    def redacted_preview(self, text: str) -> str:
        token = text[self.start : self.end]
        return token[:4] + "…" + f"({len(token)} chars)"


def _rule(rule_id: str, description: str, regex: str, entropy: float = 0.0) -> SecretRule:
    return SecretRule(rule_id, description, re.compile(regex), entropy)


RULES: tuple[SecretRule, ...] = (
    _rule("github-pat", "GitHub personal access token", r"ghp_[0-9a-zA-Z]{36}", 3),
    _rule("github-fine-grained-pat", "GitHub fine-grained token", r"github_pat_\w{82}", 3),
    _rule("github-oauth", "GitHub OAuth token", r"gho_[0-9a-zA-Z]{36}", 3),
    _rule("github-app-token", "GitHub App token", r"(?:ghu|ghs)_[0-9a-zA-Z]{36}", 3),
    _rule("github-refresh-token", "GitHub refresh token", r"ghr_[0-9a-zA-Z]{36}", 3),
    _rule("slack-bot-token", "Slack bot token", r"xoxb-[0-9]{10,13}-[0-9]{10,13}[a-zA-Z0-9-]*", 3),
    _rule("slack-legacy-bot-token", "Slack legacy bot token", r"xoxb-[0-9]{8,14}-[a-zA-Z0-9]{18,26}", 2),
    _rule("slack-user-token", "Slack user token", r"xox[pe](?:-[0-9]{10,13}){3}-[a-zA-Z0-9-]{28,34}", 2),
    _rule("slack-app-token", "Slack app-level token", r"(?i)xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+", 2),
    _rule("slack-config-access-token", "Slack configuration token", r"(?i)xoxe.xox[bp]-\d-[A-Z0-9]{163,166}", 2),
    _rule(
        "slack-webhook-url",
        "Slack incoming webhook URL",
        r"(?:https?://)?hooks.slack.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{43,56}",
    ),
    _rule(
        "openai-api-key",
        "OpenAI API key",
        r"\b(?:sk-(?:proj|svcacct|admin)-(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})T3BlbkFJ"
        r"(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})\b|sk-[a-zA-Z0-9]{20}T3BlbkFJ[a-zA-Z0-9]{20})",
        3,
    ),
    # Project keys without the T3BlbkFJ marker (newer format): long, high entropy, after sk-proj-.
    _rule("openai-project-key", "OpenAI project API key", r"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}", 4),
    _rule("anthropic-api-key", "Anthropic API key", r"\bsk-ant-(?:api03|admin01)-[a-zA-Z0-9_\-]{93}AA", 0),
    _rule("aws-access-key-id", "AWS access key id", r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b", 3),
    _rule(
        "private-key",
        "private key",
        r"(?i)-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----[\s\S-]{64,}?KEY(?: BLOCK)?-----",
    ),
)


def shannon_entropy(token: str) -> float:
    if not token:
        return 0.0
    counts = Counter(token)
    return -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())


def find_secrets(text: str) -> list[SecretHit]:
    hits: list[SecretHit] = []
    covered: list[tuple[int, int]] = []
    for rule in RULES:
        for match in rule.pattern.finditer(text):
            start, end = match.span()
            if any(s <= start < e for s, e in covered):
                continue
            if rule.min_entropy and shannon_entropy(match.group(0)) < rule.min_entropy:
                continue
            hits.append(SecretHit(rule.id, rule.description, start, end))
            covered.append((start, end))
    return sorted(hits, key=lambda h: h.start)


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
