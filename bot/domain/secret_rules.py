"""The rules the secret guard runs, from maintained detectors rather than a hand-written list.

Three sources, tried in this order (the first rule to claim a span keeps it):
1. gitleaks' default rules, the excerpt in `gitleaks_rules_excerpt.toml` (gitleaks/gitleaks
   config/gitleaks.toml @ b58d3f1, MIT; its header names the rules kept): GitHub, Slack, OpenAI,
   Anthropic tokens and private-key blocks, with gitleaks' keywords and entropy thresholds.
2. detect-secrets' regex plugins (Yelp/detect-secrets >= 1.5, the installed package): AWS, Stripe,
   passwords in URLs, JWTs, GitLab, npm, PyPI, SendGrid, Twilio, Azure, Discord, Telegram … Only
   their patterns and their own validation are used: never `verify()`, which calls the vendor's
   API over the network, and not the entropy or keyword plugins, which flag ordinary prose.
3. PASS's own rules for shapes neither covers (Google API keys, an unquoted
   `aws_secret_access_key = …`, OpenAI project keys without the T3BlbkFJ marker).

Each rule knows which capture group is the secret, so a database URL is shown as
`postgres://admin:[redacted …]@db…`: the password goes, the host stays readable.
Loading detect-secrets costs about 0.15 s (it imports `requests`), so the rules are built on
first use: a sandboxed agent that never meets a secret never pays for it.
"""

from __future__ import annotations

import functools
import math
import re
import tomllib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

GITLEAKS_RULES_FILE = "gitleaks_rules_excerpt.toml"


@dataclass(frozen=True)
class SecretRule:
    id: str
    description: str
    pattern: re.Pattern[str]
    source: str
    min_entropy: float = 0.0
    # Lower-case substrings one of which must be in the text for the rule to run (gitleaks' keywords).
    keywords: tuple[str, ...] = ()
    # The detector's own second look at a candidate (detect-secrets' JWT decoding, placeholders).
    accepts: Callable[[str], bool] | None = field(default=None, compare=False)
    # How much of a match a finding may quote: a token's public prefix ("ghp_", "sk_l"), but
    # nothing of a password or of a secret named only by its position.
    shown_prefix: int = 4

    def applies_to(self, lowered: str) -> bool:
        return not self.keywords or any(k in lowered for k in self.keywords)

    def secret_span(self, match: re.Match[str]) -> tuple[int, int] | None:
        """Where the secret itself is in a match: the first capture group that matched, else all of it."""
        for group in range(1, (self.pattern.groups or 0) + 1):
            if match.group(group):
                return match.span(group)
        return match.span() if match.group(0) else None

    def keeps(self, value: str) -> bool:
        if self.min_entropy and shannon_entropy(value) < self.min_entropy:
            return False
        if _is_filler(value):
            return False
        return self.accepts is None or self.accepts(value)


_ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")


def _is_filler(value: str) -> bool:
    """Documentation's stand-ins: the longest run of letters and digits is one character repeated
    (`T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX`, `****`), or the value says it is an example
    (AWS's own `AKIAIOSFODNN7EXAMPLE`)."""
    if "example" in value.lower():
        return True
    runs = _ALNUM_RUN.findall(value)
    longest = max(runs, key=len) if runs else value
    return len(set(longest)) <= 1


def shannon_entropy(token: str) -> float:
    if not token:
        return 0.0
    counts = Counter(token)
    return -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())


# gitleaks' descriptions are sentences ("Identified a Slack Bot token, which may …"); findings
# say "A <name> is in the body", so each kept rule has a short name here.
_GITLEAKS_NAMES = {
    "anthropic-admin-api-key": "Anthropic admin API key",
    "anthropic-api-key": "Anthropic API key",
    "github-app-token": "GitHub App token",
    "github-fine-grained-pat": "GitHub fine-grained token",
    "github-oauth": "GitHub OAuth token",
    "github-pat": "GitHub personal access token",
    "github-refresh-token": "GitHub refresh token",
    "openai-api-key": "OpenAI API key",
    "private-key": "private key",
    "slack-app-token": "Slack app-level token",
    "slack-bot-token": "Slack bot token",
    "slack-config-access-token": "Slack configuration token",
    "slack-legacy-bot-token": "Slack legacy bot token",
    "slack-user-token": "Slack user token",
    "slack-webhook-url": "Slack incoming webhook URL",
}


def gitleaks_rules(toml_text: str) -> list[SecretRule]:
    rules: list[SecretRule] = []
    for rule in tomllib.loads(toml_text)["rules"]:
        rules.append(
            SecretRule(
                id=rule["id"],
                description=_GITLEAKS_NAMES.get(rule["id"], rule["id"]),
                pattern=re.compile(rule["regex"]),
                source="gitleaks",
                min_entropy=float(rule.get("entropy", 0)),
                keywords=tuple(k.lower() for k in rule.get("keywords", ())),
            )
        )
    return rules


# Rule ids for detect-secrets' plugins (stable ids: findings and logs name them); a tuple names
# each pattern of the plugin's `denylist` in turn. A plugin not listed here is not used: the
# entropy and keyword plugins (they flag prose), IPPublicDetector (an address is not a secret)
# and PrivateKeyDetector (it matches a bare "BEGIN PRIVATE KEY" header; gitleaks' rule needs the key).
_DETECT_SECRETS_IDS: dict[str, str | tuple[str, ...]] = {
    "AWSKeyDetector": ("aws-access-key-id", "aws-secret-access-key"),
    "ArtifactoryDetector": "artifactory-credentials",
    "AzureStorageKeyDetector": "azure-storage-key",
    "BasicAuthDetector": "password-in-url",
    "CloudantDetector": "cloudant-credentials",
    "DiscordBotTokenDetector": "discord-bot-token",
    "GitHubTokenDetector": "github-token",
    "GitLabTokenDetector": "gitlab-token",
    "IbmCloudIamDetector": "ibm-cloud-iam-key",
    "IbmCosHmacDetector": "ibm-cos-hmac-secret",
    "JwtTokenDetector": "jwt",
    "MailchimpDetector": "mailchimp-api-key",
    "NpmDetector": "npm-token",
    "OpenAIDetector": "openai-token",
    "PypiTokenDetector": "pypi-token",
    "SendGridDetector": "sendgrid-api-key",
    "SlackDetector": "slack-token",
    "SoftlayerDetector": "softlayer-api-key",
    "SquareOAuthDetector": "square-oauth-secret",
    "StripeDetector": "stripe-access-key",
    "TelegramBotTokenDetector": "telegram-bot-token",
    "TwilioKeyDetector": "twilio-key",
}

# Literals without which a plugin's patterns cannot match (read off each pattern; lower case, as
# the text is searched lowered). They let a rule skip text it cannot match, and keep npm's
# `//.+/:_authToken=` from going quadratic on a long line of URLs (a second per 100 KB).
_DETECT_SECRETS_KEYWORDS: dict[str, tuple[str, ...]] = {
    "aws-secret-access-key": ("aws",),
    "azure-storage-key": ("accountkey=",),
    "password-in-url": ("://",),
    "cloudant-credentials": ("key", "pw", "pass", "token", "cloudant.com"),
    "github-token": ("gh",),
    "gitlab-token": ("gl", "gr1348941"),
    "ibm-cloud-iam-key": ("key", "pwd", "pass", "token"),
    "ibm-cos-hmac-secret": ("secret",),
    "jwt": ("eyj",),
    "mailchimp-api-key": ("-us",),
    "npm-token": (":_authtoken=",),
    "openai-token": ("t3blbkfj",),
    "pypi-token": ("pypi-",),
    "sendgrid-api-key": ("sg.",),
    "slack-token": ("xox", "hooks.slack.com"),
    "softlayer-api-key": ("key", "pwd", "pass", "token", "api.softlayer.com"),
    "square-oauth-secret": ("sq0csp-",),
    "stripe-access-key": ("k_live_",),
}

# detect-secrets' own names where they read badly in "A … is in the body".
_DETECT_SECRETS_NAMES = {
    "aws-access-key-id": "AWS access key id",
    "aws-secret-access-key": "AWS secret access key",
    "password-in-url": "password in a URL",
}
# Rules whose match is a bare secret value (no public prefix to quote).
_VALUE_ONLY = frozenset(
    {
        "aws-secret-access-key",
        "password-in-url",
        "cloudant-credentials",
        "ibm-cloud-iam-key",
        "ibm-cos-hmac-secret",
        "softlayer-api-key",
        "telegram-bot-token",
        "mailchimp-api-key",
    }
)

# Values that stand for a password in documentation, not one (`postgres://user:password@host`).
_PLACEHOLDER_PASSWORDS = frozenset({"password", "passwd", "pass", "pw", "secret", "changeme", "example"})


def _not_a_placeholder(value: str) -> bool:
    from detect_secrets.filters.heuristic import is_sequential_string, is_templated_secret

    if value.lower() in _PLACEHOLDER_PASSWORDS:
        return False
    return not (is_templated_secret(value) or is_sequential_string(value))


def _plugin_check(plugin: Any) -> Callable[[str], bool] | None:
    """A plugin that overrides `analyze_string` (JWT decodes its candidate) gets its own say."""
    from detect_secrets.plugins.base import RegexBasedDetector

    if type(plugin).analyze_string is RegexBasedDetector.analyze_string:
        return _not_a_placeholder

    def accepts(value: str) -> bool:
        return value in set(plugin.analyze_string(value)) and _not_a_placeholder(value)

    return accepts


def detect_secrets_rules() -> list[SecretRule]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    rules: list[SecretRule] = []
    plugin_classes: list[type[Any]] = list(get_mapping_from_secret_type_to_class().values())
    for plugin_class in plugin_classes:
        ids = _DETECT_SECRETS_IDS.get(plugin_class.__name__)
        if ids is None:
            continue
        plugin = plugin_class()
        patterns = list(plugin.denylist)
        names = (ids,) * len(patterns) if isinstance(ids, str) else ids
        if len(names) != len(patterns):
            # A detect-secrets release changed the plugin: say so rather than guess which is which.
            raise RuntimeError(f"detect-secrets {plugin_class.__name__} has {len(patterns)} patterns, not {len(names)}")
        check = _plugin_check(plugin)
        for rule_id, pattern in zip(names, patterns, strict=True):
            rules.append(
                SecretRule(
                    rule_id,
                    _DETECT_SECRETS_NAMES.get(rule_id, str(plugin.secret_type)),
                    pattern,
                    "detect-secrets",
                    accepts=check,
                    keywords=_DETECT_SECRETS_KEYWORDS.get(rule_id, ()),
                    shown_prefix=0 if rule_id in _VALUE_ONLY else 4,
                )
            )
    return rules


PASS_RULES: tuple[SecretRule, ...] = (
    SecretRule(
        "gcp-api-key",
        "Google API key",
        re.compile(r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"),
        "pass",
        min_entropy=4.0,
        keywords=("aiza",),
    ),
    # detect-secrets finds this only in quotes; .env files and INI credentials have none.
    SecretRule(
        "aws-secret-access-key",
        "AWS secret access key",
        re.compile(r"(?i)aws_?secret_?(?:access_?)?key\b[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"),
        "pass",
        min_entropy=4.0,
        keywords=("aws",),
        shown_prefix=0,
    ),
    # Newer project keys come without the T3BlbkFJ marker that gitleaks' rule needs.
    SecretRule(
        "openai-project-key",
        "OpenAI project API key",
        re.compile(r"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}"),
        "pass",
        min_entropy=4.0,
        keywords=("sk-",),
    ),
)


@functools.cache
def all_rules() -> tuple[SecretRule, ...]:
    toml_text = resources.files("bot.domain").joinpath(GITLEAKS_RULES_FILE).read_text(encoding="utf-8")
    return (*gitleaks_rules(toml_text), *detect_secrets_rules(), *PASS_RULES)
