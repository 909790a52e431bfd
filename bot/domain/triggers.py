"""Which files in a GitHub push are PRDs (pure)."""

from __future__ import annotations

import fnmatch
from typing import Any


def prd_paths_in_push(event: dict[str, Any], patterns: list[str]) -> list[str]:
    """Files added or modified by the push's commits that match a PRD pattern, in order, once."""
    seen: dict[str, None] = {}
    for commit in event.get("commits") or []:
        for path in [*(commit.get("added") or []), *(commit.get("modified") or [])]:
            if isinstance(path, str) and any(fnmatch.fnmatch(path, p) for p in patterns):
                seen.setdefault(path, None)
    return list(seen)
