"""The sensitive-data guard: which work items may be written to a given repository.

Two rules, applied before anything is published:
- text containing a secret (bot/domain/secrets.py) is never published, public repo or private;
- an item serving a requirement from a confidential PRD section is not published to a public repo.

A refusal names the item, the rule and the requirement ids or secret kinds, never the text itself,
so that the refusal can be shown in Slack and stored on the run without leaking what it guards.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.models import Plan, Prd, SyncRefusal, WorkItem
from bot.domain.secrets import find_secrets


@dataclass(frozen=True)
class Screening:
    allowed: list[WorkItem]
    refused: list[SyncRefusal]

    def refusal(self, key: str) -> SyncRefusal | None:
        return next((r for r in self.refused if r.key == key), None)


def published_text(item: WorkItem, prd: Prd) -> str:
    """Everything of `item` that an issue would show, including the requirements it quotes."""
    parts = [item.title, item.body, *item.acceptance_criteria, *item.labels]
    for requirement_id in item.requirement_ids:
        requirement = prd.requirement(requirement_id)
        if requirement is not None:
            parts += [requirement.text, *requirement.acceptance_criteria]
    return "\n".join(parts)


def secret_refusal(key: str, text: str) -> SyncRefusal | None:
    hits = find_secrets(text)
    if not hits:
        return None
    kinds = ", ".join(sorted({h.description for h in hits}))
    return SyncRefusal(key=key, reason="secret", detail=f"its text contains a secret ({kinds})")


def screen_item(item: WorkItem, prd: Prd, *, public: bool) -> SyncRefusal | None:
    refusal = secret_refusal(item.key, published_text(item, prd))
    if refusal is not None:
        return refusal
    if not public:
        return None
    confidential = [
        requirement_id
        for requirement_id in item.requirement_ids
        if (requirement := prd.requirement(requirement_id)) is not None and requirement.confidential
    ]
    if not confidential:
        return None
    return SyncRefusal(
        key=item.key,
        reason="confidential",
        detail=f"it serves confidential requirement(s) {', '.join(confidential)}; the repository is public",
    )


def screen_plan(plan: Plan, prd: Prd, *, public: bool) -> Screening:
    allowed: list[WorkItem] = []
    refused: list[SyncRefusal] = []
    for item in plan.items:
        refusal = screen_item(item, prd, public=public)
        if refusal is None:
            allowed.append(item)
        else:
            refused.append(refusal)
    return Screening(allowed=allowed, refused=refused)
