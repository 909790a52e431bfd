"""From requirements to issue-sized units of work, within the plan's item budget.

Three rules, in order:

1. Success criteria (`SC-001`, a "Success criteria/metrics" section) are not work: each attaches
   as an acceptance criterion to the unit whose text it measures, and stays traced through that
   unit's requirement ids. Criteria that measure nothing in particular form one verification
   unit for their area.
2. In a PRD of more than a handful of requirements, small related requirements of one section
   (a line or two, sharing a topic word, or too small to be an issue alone) share a unit, up to
   `SMALL_GROUP` of them.
   A requirement with many acceptance criteria splits into parts, each with its share of them.
3. While the plan is over its budget, the two neighbouring units with the least work between them
   merge (same section first), so a long spec still yields a plan the policy accepts and every
   requirement stays traced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.domain.models import Prd, Requirement
from bot.planner.words import INTRODUCING_VERBS, content_words, short_head, words

SMALL_GROUP = 4
# A requirement with more acceptance criteria than MAX_CRITERIA splits into parts of about PART_CRITERIA.
MAX_CRITERIA = 8
PART_CRITERIA = 6
SMALL_WORDS = 25
# A PRD of a handful of one-liners is already issue-sized: each stays an item, and they can be
# worked in parallel. Grouping is for the long lists of a real spec.
MIN_REQUIREMENTS_TO_GROUP = 6
# A unit lighter than this (about two short lines of requirement) is not worth an issue alone.
MIN_ISSUE_WEIGHT = 10
# Verbs every requirement uses: sharing one says nothing about sharing a topic.
_ACTION_WORDS = INTRODUCING_VERBS | {"develop", "ensure", "make", "handle", "handling", "show", "run", "get", "set"}
_SUCCESS_SECTION = re.compile(r"success (criteri|metric|measure)|measurable outcome|\bkpis?\b", re.IGNORECASE)
_LIST_LINE = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+(.*)$")


@dataclass(frozen=True)
class Measure:
    """A success criterion: checked on the work that delivers it, never a work item of its own."""

    text: str
    section: str
    requirement_id: str | None = None

    def as_criterion(self) -> str:
        label = f"{self.requirement_id} (success criterion)" if self.requirement_id else "Success measure"
        return f"{label}: {self.text}"


@dataclass
class WorkUnit:
    requirements: list[Requirement]
    section: str
    measures: list[Measure] = field(default_factory=list)
    # True for an area's verification unit: it delivers nothing, it checks the area's measures.
    verification: bool = False
    # (n, of) when one requirement with many acceptance criteria is split into several units.
    part: tuple[int, int] | None = None

    @property
    def requirement_ids(self) -> list[str]:
        ids = [r.id for r in self.requirements]
        ids.extend(m.requirement_id for m in self.measures if m.requirement_id)
        return list(dict.fromkeys(ids))

    @property
    def names(self) -> list[str]:
        """What each requirement of the unit is called: how other parts of the PRD refer to it."""
        if self.part is not None and self.part[0] > 1:
            return []  # a mention of a split requirement means its first part
        return [short_head(r.text, limit=200) for r in self.requirements]

    @property
    def text(self) -> str:
        parts = [r.text for r in self.requirements]
        parts.extend(c for r in self.requirements for c in r.acceptance_criteria)
        return "\n".join(parts)

    @property
    def weight(self) -> int:
        return sum(requirement_weight(r) for r in self.requirements) + 3 * len(self.measures)


def requirement_weight(req: Requirement) -> int:
    """Roughly how much work: its words, and more for each acceptance criterion it must meet."""
    return len(words(req.text)) + sum(4 + len(words(c)) // 2 for c in req.acceptance_criteria)


def is_success_criterion(req: Requirement) -> bool:
    return req.id.upper().startswith("SC-") or bool(_SUCCESS_SECTION.search(req.section))


def success_measures(prd: Prd) -> list[Measure]:
    measures = [Measure(r.text, r.section, r.id) for r in prd.requirements if is_success_criterion(r)]
    return [*measures, *_unnumbered_measures(prd)]


def plan_units(prd: Prd, max_items: int) -> list[WorkUnit]:
    work = [r for r in prd.requirements if not is_success_criterion(r)]
    measures = success_measures(prd)
    units = _split_large(_group_small(work))
    units.extend(_attach(measures, units))
    return _fit_budget(units, max(1, max_items))


def _is_small(req: Requirement) -> bool:
    story = req.id.upper().startswith("US-") or bool(re.search(r"\bas an?\b.+\bi want\b", req.text, re.IGNORECASE))
    return not story and len(req.acceptance_criteria) <= 1 and len(words(req.text)) <= SMALL_WORDS


def _group_small(reqs: list[Requirement]) -> list[WorkUnit]:
    if len(reqs) < MIN_REQUIREMENTS_TO_GROUP:
        return [WorkUnit([req], req.section) for req in reqs]
    units: list[WorkUnit] = []
    open_groups: dict[str, WorkUnit] = {}
    for req in reqs:
        if not _is_small(req):
            units.append(WorkUnit([req], req.section))
            open_groups.pop(req.section, None)
            continue
        # Only the section's latest group is open: a roadmap's steps stay in their order. A small
        # requirement joins it when they share a topic, or while the group is still too small to be
        # an issue of its own.
        group = open_groups.get(req.section)
        if (
            group is not None
            and len(group.requirements) < SMALL_GROUP
            and (
                _topic(req.text) & _topic(" ".join(r.text for r in group.requirements))
                or group.weight < MIN_ISSUE_WEIGHT
            )
        ):
            group.requirements.append(req)
        else:
            group = open_groups[req.section] = WorkUnit([req], req.section)
            units.append(group)
    return units


def _split_large(units: list[WorkUnit]) -> list[WorkUnit]:
    """A requirement with more criteria than one issue should carry becomes consecutive parts."""
    out: list[WorkUnit] = []
    for unit in units:
        [req, *others] = unit.requirements
        criteria = req.acceptance_criteria
        if others or len(criteria) <= MAX_CRITERIA:
            out.append(unit)
            continue
        count = -(-len(criteria) // PART_CRITERIA)
        size = -(-len(criteria) // count)
        for n in range(count):
            piece = req.model_copy(update={"acceptance_criteria": criteria[n * size : (n + 1) * size]})
            out.append(WorkUnit([piece], unit.section, part=(n + 1, count)))
    return out


def _topic(text: str) -> frozenset[str]:
    return content_words(text) - _ACTION_WORDS


def _unnumbered_measures(prd: Prd) -> list[Measure]:
    """Bullets of a success-metrics section the PRD gives no ids: attached too, so they get checked."""
    traced = {r.section for r in prd.requirements}
    found = []
    for path, body in prd.sections.items():
        if not _SUCCESS_SECTION.search(path) or path in traced:
            continue
        for line in body.split("\n"):
            match = _LIST_LINE.match(line)
            if match and not line.startswith((" ", "\t")):
                found.append(Measure(re.sub(r"\*\*(.+?)\*\*", r"\1", match.group(1)).strip(), path))
    return found


def _attach(measures: list[Measure], units: list[WorkUnit]) -> list[WorkUnit]:
    """Each measure to the unit it measures; the rest into one verification unit per area."""
    vocab = [content_words(u.text) for u in units]
    verification: dict[str, WorkUnit] = {}
    for measure in measures:
        wanted = content_words(measure.text)
        best, best_score = None, 0
        for unit, have in zip(units, vocab, strict=True):
            score = len(wanted & have)
            if score > best_score:
                best, best_score = unit, score
        # Two shared words, or the one word a short measure has, tie it to that work.
        if best is not None and (best_score >= 2 or (best_score == 1 and len(wanted) <= 2)):
            best.measures.append(measure)
            continue
        if measure.requirement_id is None:
            continue  # nothing to trace and nothing it measures: the architecture pack lists it
        area = verification.get(measure.section)
        if area is None:
            area = verification[measure.section] = WorkUnit([], measure.section, verification=True)
        area.measures.append(measure)
    return list(verification.values())


def _fit_budget(units: list[WorkUnit], max_items: int) -> list[WorkUnit]:
    # Weights and distances are kept beside the units: recomputing them for every pair of every
    # round made a 200 KB spec take seconds.
    weights = [u.weight for u in units]
    while len(units) > max_items:
        best: tuple[int, int, int] | None = None
        for i in range(len(units) - 1):
            a, b = units[i], units[i + 1]
            if a.verification != b.verification:
                continue
            distance = 0 if a.section == b.section else (1 if _top(a.section) == _top(b.section) else 2)
            candidate = (distance, weights[i] + weights[i + 1], i)
            if best is None or candidate < best:
                best = candidate
                if distance == 0 and candidate[1] <= 2 * MIN_ISSUE_WEIGHT:
                    break  # two near-empty neighbours of one section: nothing merges better
        if best is None:
            # Only a delivery unit next to a verification unit is left: the criteria join the work.
            units[0].measures.extend(m for u in units[1:] for m in u.measures if u.verification)
            units = [u for u in units if not u.verification]
            weights = [u.weight for u in units]
            continue
        i = best[2]
        a, b = units[i], units[i + 1]
        merged = WorkUnit(a.requirements + b.requirements, a.section, a.measures + b.measures, a.verification)
        units[i : i + 2] = [merged]
        weights[i : i + 2] = [weights[i] + weights[i + 1]]
    return units


def _top(section: str) -> str:
    return section.split(" > ")[0]
