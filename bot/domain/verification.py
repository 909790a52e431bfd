"""Backlog verification: pure and deterministic. Each check yields named findings.

An `error` finding stops the plan from being staged for approval; `warning` and `info` are shown
beside it. The checks mirror what GitHub will refuse (title and body limits) and what a reviewer
would catch (untraced items, cycles, duplicates, leaked secrets).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.domain.models import Finding, Plan, Prd, Severity, VerificationReport
from bot.domain.secrets import find_secrets

MAX_TITLE = 256
MAX_BODY = 65_536
MAX_LABEL = 50
NEAR_DUPLICATE_SIMILARITY = 0.8
MIN_PRD_WORDS = 8


def _err(check: str, message: str, item_key: str | None = None) -> Finding:
    return Finding(check=check, severity=Severity.ERROR, message=message, item_key=item_key)


def _warn(check: str, message: str, item_key: str | None = None) -> Finding:
    return Finding(check=check, severity=Severity.WARNING, message=message, item_key=item_key)


def check_prd_content(prd: Prd) -> list[Finding]:
    if prd.is_template:
        return [
            _err(
                "prd_content",
                "The PRD is only a template: its sections hold placeholders in [brackets] and no content. "
                "Replace the placeholders with your product's requirements and run again.",
            )
        ]
    words = len(re.findall(r"[A-Za-z]{2,}", prd.text))
    if prd.text and words < MIN_PRD_WORDS:
        return [
            _err(
                "prd_content",
                f"The PRD has {words} word(s): too little to plan from. Describe the features or user stories.",
            )
        ]
    if not prd.requirements:
        return [
            _err(
                "prd_content",
                "No requirements found in the PRD: add features, user stories or numbered requirements.",
            )
        ]
    return []


def check_coverage(prd: Prd, plan: Plan) -> list[Finding]:
    covered = {rid for item in plan.items for rid in item.requirement_ids}
    return [
        _err("coverage", f"Requirement {r.id} is not covered by any work item: \u201c{r.text[:120]}\u201d")
        for r in prd.requirements
        if r.id not in covered
    ]


def check_traceability(prd: Prd, plan: Plan) -> list[Finding]:
    known = {r.id for r in prd.requirements}
    findings = []
    for item in plan.items:
        if not item.requirement_ids:
            findings.append(_err("traceability", "Item traces to no requirement.", item.key))
        unknown = [rid for rid in item.requirement_ids if rid not in known]
        if unknown:
            findings.append(
                _err(
                    "traceability",
                    f"Item names requirement(s) the PRD does not have: {', '.join(unknown)}",
                    item.key,
                )
            )
    return findings


def check_acceptance_criteria(plan: Plan) -> list[Finding]:
    return [
        _err("acceptance_criteria", "Item has no acceptance criteria.", item.key)
        for item in plan.items
        if not any(c.strip() for c in item.acceptance_criteria)
    ]


def check_field_limits(plan: Plan) -> list[Finding]:
    findings = []
    for item in plan.items:
        if not item.title.strip():
            findings.append(_err("title_length", "Item has an empty title.", item.key))
        elif len(item.title) > MAX_TITLE:
            findings.append(
                _err(
                    "title_length",
                    f"Title is {len(item.title)} characters; GitHub allows {MAX_TITLE}.",
                    item.key,
                )
            )
        if len(item.body) > MAX_BODY:
            findings.append(
                _err(
                    "body_length",
                    f"Body is {len(item.body):,} characters; GitHub allows {MAX_BODY:,}.",
                    item.key,
                )
            )
        for label in item.labels:
            if len(label) > MAX_LABEL:
                findings.append(
                    _err("label_length", f"Label '{label[:20]}…' exceeds {MAX_LABEL} characters.", item.key)
                )
    return findings


def check_keys(plan: Plan) -> list[Finding]:
    seen: set[str] = set()
    findings = []
    for item in plan.items:
        if item.key in seen:
            findings.append(_err("unique_keys", f"Two items share the key {item.key}.", item.key))
        seen.add(item.key)
    return findings


def check_dependencies(plan: Plan) -> list[Finding]:
    keys = {item.key for item in plan.items}
    findings = []
    for item in plan.items:
        for dep in item.depends_on:
            if dep == item.key:
                findings.append(_err("dependencies", "Item depends on itself.", item.key))
            elif dep not in keys:
                findings.append(_err("dependencies", f"Depends on {dep}, which is not in the plan.", item.key))
    cycle = find_cycle({item.key: [d for d in item.depends_on if d in keys and d != item.key] for item in plan.items})
    if cycle:
        findings.append(_err("dependencies", f"Dependency cycle: {' -> '.join(cycle)}.", cycle[0]))
    return findings


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """The first cycle found in a dependency graph, as a path that ends where it starts."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def topological_order(graph: dict[str, list[str]]) -> list[str]:
    """Keys ordered so that each comes after what it depends on (input order kept otherwise)."""
    done: list[str] = []
    seen: set[str] = set()

    def visit(node: str) -> None:
        if node in seen:
            return
        seen.add(node)
        for dep in graph.get(node, []):
            if dep in graph:
                visit(dep)
        done.append(node)

    for node in graph:
        visit(node)
    return done


def _published_texts(plan: Plan) -> Iterable[tuple[str | None, str, str]]:
    yield None, "summary", plan.summary
    yield None, "architecture", plan.architecture.model_dump_json()
    for item in plan.items:
        yield item.key, "title", item.title
        yield item.key, "body", item.body
        yield item.key, "acceptance criteria", "\n".join(item.acceptance_criteria)
        yield item.key, "labels", " ".join(item.labels)


def check_secrets(plan: Plan) -> list[Finding]:
    findings = []
    for key, field, text in _published_texts(plan):
        for hit in find_secrets(text):
            findings.append(
                _err(
                    "secrets",
                    f"A {hit.description} ({hit.redacted_preview(text)}) is in the {field}; "
                    "it would be published. Remove it from the PRD and rotate it.",
                    key,
                )
            )
    return findings


_STOPWORDS = frozenset({"the", "and", "for", "with", "from", "into", "that", "this", "are", "its", "our", "all"})


def _tokens(text: str) -> set[str]:
    text = re.sub(r"\((?:[A-Z]+-\d+|R[\d.]+)\)", "", text)
    return set(re.findall(r"[a-z0-9]{3,}", text.lower())) - _STOPWORDS


def check_near_duplicates(plan: Plan) -> list[Finding]:
    findings = []
    tokens = [(item.key, _tokens(item.title)) for item in plan.items]
    for i, (key_a, a) in enumerate(tokens):
        for key_b, b in tokens[i + 1 :]:
            if not a or not b:
                continue
            similarity = len(a & b) / len(a | b)
            if similarity >= NEAR_DUPLICATE_SIMILARITY:
                findings.append(
                    _warn(
                        "near_duplicates",
                        f"{key_a} and {key_b} look like the same work ({similarity:.0%} alike).",
                        key_b,
                    )
                )
    return findings


def check_backlog_size(plan: Plan, max_items: int) -> list[Finding]:
    if len(plan.items) > max_items:
        return [
            _err(
                "backlog_size",
                f"The plan has {len(plan.items)} items; max_items_per_run in policies/limits.yml allows {max_items}. "
                "Raise max_items_per_run there, or plan the PRD in parts.",
            )
        ]
    return []


def verify_backlog(prd: Prd, plan: Plan, *, max_items: int = 60) -> VerificationReport:
    findings = [
        *check_prd_content(prd),
        *check_coverage(prd, plan),
        *check_traceability(prd, plan),
        *check_acceptance_criteria(plan),
        *check_field_limits(plan),
        *check_keys(plan),
        *check_dependencies(plan),
        *check_secrets(plan),
        *check_near_duplicates(plan),
        *check_backlog_size(plan, max_items),
    ]
    return VerificationReport.from_findings(findings)
