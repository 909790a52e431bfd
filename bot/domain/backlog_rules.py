"""The structural rules a backlog must keep, decided once (pure).

Two readers apply them: verification (`bot.domain.verification`), whose findings a person reads
on the card, and the LLM repair loop (`bot.planner.output_check`), whose findings go back to the
model. Each words and names its findings for its own reader; what counts as a broken rule is
decided here only, so the model is never asked to fix less, or other, than verification refuses.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import Enum

from bot.domain.dependency_graph import dependency_graph, find_cycle
from bot.domain.models import Prd, Requirement, WorkItem

# GitHub's own limits (422 "body is too long (maximum is 65536 characters)"; titles 256; labels 50).
MAX_TITLE = 256
MAX_BODY = 65_536
MAX_LABEL = 50


class TitleFault(Enum):
    EMPTY = "empty"
    TOO_LONG = "too_long"


class DependencyFault(Enum):
    ON_ITSELF = "on_itself"
    NOT_IN_PLAN = "not_in_plan"


def title_fault(title: str) -> TitleFault | None:
    if not title.strip():
        return TitleFault.EMPTY
    return TitleFault.TOO_LONG if len(title) > MAX_TITLE else None


def repeated_key_positions(items: Sequence[WorkItem]) -> list[int]:
    """The positions, in plan order, of the items whose key an earlier item already has."""
    seen: set[str] = set()
    repeated: list[int] = []
    for position, item in enumerate(items):
        if item.key in seen:
            repeated.append(position)
        seen.add(item.key)
    return repeated


@dataclass(frozen=True)
class TraceFault:
    """Why an item does not trace to the PRD: it names no requirement, or names these ids the PRD lacks."""

    unknown: tuple[str, ...] = ()

    @property
    def names_none(self) -> bool:
        return not self.unknown


def trace_fault(item: WorkItem, known: Collection[str]) -> TraceFault | None:
    """None when every requirement id the item names is one of the PRD's (and it names one)."""
    if not item.requirement_ids:
        return TraceFault()
    unknown = tuple(rid for rid in item.requirement_ids if rid not in known)
    return TraceFault(unknown) if unknown else None


def uncovered_requirements(prd: Prd, items: Sequence[WorkItem]) -> list[Requirement]:
    """The PRD's requirements that no item names, in the PRD's order."""
    covered = {rid for item in items for rid in item.requirement_ids}
    return [r for r in prd.requirements if r.id not in covered]


def dependency_faults(item: WorkItem, keys: Collection[str]) -> list[tuple[str, DependencyFault]]:
    """Each of an item's dependencies that cannot be an edge: on itself, or on a key not in the plan."""
    faults = []
    for dep in item.depends_on:
        if dep == item.key:
            faults.append((dep, DependencyFault.ON_ITSELF))
        elif dep not in keys:
            faults.append((dep, DependencyFault.NOT_IN_PLAN))
    return faults


def dependency_cycle(items: Sequence[WorkItem]) -> list[str] | None:
    """One dependency cycle as a path of keys ("A -> B -> A"), or None when the plan has none."""
    return find_cycle(dependency_graph(items))
