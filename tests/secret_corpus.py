"""The secret guard's regression corpus (tests/fixtures/secrets/corpus.yml), loaded for tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

CORPUS = Path(__file__).parent / "fixtures" / "secrets" / "corpus.yml"
SPLIT = "%%"  # inside each fake secret: the token around it is the secret a test follows
BREAK = "%^"  # inside a detector's anchor (`://`, `BEGIN … KEY`): only keeps scanners quiet
_TOKEN_CHAR = re.compile(r"[A-Za-z0-9_+\-]")


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    fires: str | None = None
    detector: str | None = None
    # The whole token the fake secret was split inside: what must never be shown.
    secret: str = ""

    def shown_parts(self, output: str) -> list[str]:
        """Every 10-character piece of the secret that `output` still shows (shorter pieces are
        public prefixes such as `sk_live_`, which a near miss may quote)."""
        return [self.secret[i : i + 10] for i in range(len(self.secret) - 9) if self.secret[i : i + 10] in output]


def joined(raw: str) -> tuple[str, list[str]]:
    """The text with its splits removed, and the whole token each split was inside."""
    raw = raw.replace(BREAK, "")
    text = raw.replace(SPLIT, "")
    secrets = []
    for n, at in enumerate(m.start() for m in re.finditer(re.escape(SPLIT), raw)):
        start = end = at - n * len(SPLIT)
        while start > 0 and _TOKEN_CHAR.match(text[start - 1]):
            start -= 1
        while end < len(text) and _TOKEN_CHAR.match(text[end]):
            end += 1
        secrets.append(text[start:end])
    return text, secrets


def _case(entry: dict[str, str]) -> Case:
    text, secrets = joined(entry["text"])
    return Case(entry["name"], text, entry.get("fires"), entry.get("detector"), secrets[0] if secrets else "")


def leaky_prd() -> tuple[str, list[Case]]:
    """The billing PRD of issue #17 (four secrets, a confidential section), and its secrets."""
    text, secrets = joined((CORPUS.parent / "leaky-billing-prd.md").read_text(encoding="utf-8"))
    return text, [Case(f"secret {n}", text, secret=s) for n, s in enumerate(secrets, start=1)]


def load() -> tuple[list[Case], list[Case]]:
    data = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    return [_case(e) for e in data["positives"]], [_case(e) for e in data["negatives"]]


POSITIVES, NEGATIVES = load()
