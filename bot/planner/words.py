"""Word-level helpers the offline planner shares: content words, a crude stem, short heads.

Crude on purpose: the planner only needs to tell whether two pieces of PRD text name the same
thing ("task operations" / "Basic Task Operations"), deterministically and fast.
"""

from __future__ import annotations

import re
from functools import lru_cache


# Words that name nothing on their own: matching on them would link unrelated items.
def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS = _word_set(
    "a an the and or of to in on for with from into onto by via as at is are be been being it its this that "
    "these those their them they we our you your his her all any each every both most more other previous "
    "existing some such than then also only just very can could should would will shall may might must not no "
    "yes new basic simple full main core first next last own per when where which while who whom what how "
    "system systems user users allow allows able support supports provide provides use uses using used "
    "feature features functionality capability capabilities component components etc e.g i.e"
)
# Verbs that say an item brings something into existence that later items may use.
INTRODUCING_VERBS = _word_set(
    "define defines design designs create creates implement implements introduce introduces build builds "
    "add adds establish establishes"
)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*[A-Za-z0-9]|[A-Za-z]")
_REQUIREMENT_PREFIX = re.compile(
    r"^(?:the\s+)?(?:system|application|app|service|cli|tool|users?)\s+(?:must|shall|should|will|can|may)"
    r"(?:\s+not)?\s+(?:be\s+able\s+to\s+)?(?:allow\s+(?:users?|developers?|admins?)\s+to\s+)?",
    re.IGNORECASE,
)


@lru_cache(maxsize=16384)
def stem(word: str) -> str:
    """Lower case, without a plural or common verb ending ('operations' -> 'operation')."""
    w = word.lower().strip(".-_")
    if w.endswith(("ss", "us", "is")) or "." in w or "_" in w:
        return w
    for suffix, keep in (("ies", "y"), ("sses", "ss"), ("ful", ""), ("es", "e"), ("s", "")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            return w[: len(w) - len(suffix)] + keep
    return w


# The planner asks about the same texts many times (each unit against every other): cached, as
# these are pure functions of their text.
@lru_cache(maxsize=4096)
def words(text: str) -> tuple[str, ...]:
    """The words of `text` in order, stemmed, stopwords kept (phrases are matched in order)."""
    return tuple(stem(w) for w in _WORD.findall(text))


@lru_cache(maxsize=4096)
def content_words(text: str) -> frozenset[str]:
    return frozenset(w for w in words(text) if w not in STOPWORDS and len(w) > 1)


def short_head(text: str, limit: int = 70) -> str:
    """A requirement's gist for a title: its name before ':', without "System MUST allow users to"."""
    head = re.split(r":\s+As an?\b", text, maxsplit=1)[0]
    if ": " in head and len(head.split(": ", 1)[0]) <= 60:
        head = head.split(": ", 1)[0]
    head = _REQUIREMENT_PREFIX.sub("", head.strip()).strip().rstrip(".")
    head = head[:1].upper() + head[1:]
    if len(head) > limit:
        head = head[: limit - 1].rsplit(" ", 1)[0] + "…"
    return head


def acronym(name: str) -> str:
    """'Command Line Interface Foundation' -> 'clif'; used to match 'CLI' to its item."""
    return "".join(w[0] for w in re.findall(r"[A-Za-z]+", name)).lower()
