"""Backlog verification: pure and deterministic. Each check yields named findings.

An `error` finding stops the plan from being staged for approval; `warning` and `info` are shown
beside it. The checks mirror what GitHub will refuse (title and body limits) and what a reviewer
would catch (untraced items, cycles, duplicates, leaked secrets), and the shape of the dependency
graph: every edge needs a reason, none may be implied by others, and the longest chain may not
cover most of the plan.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.domain import backlog_rules as rules
from bot.domain.confidential import check_confidential_sections
from bot.domain.dependency_graph import critical_path, dependency_graph, parallel_width, redundant_edges
from bot.domain.models import Finding, Plan, PlanShape, Prd, Severity, VerificationReport
from bot.domain.secrets import SecretHit, find_secrets

NEAR_DUPLICATE_SIMILARITY = 0.8
MIN_PRD_WORDS = 8
# Below this many items a long chain is normal (a small feature is often a sequence).
MIN_ITEMS_FOR_CHAIN_CHECK = 8


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
    return [
        _err("coverage", f"Requirement {r.id} is not covered by any work item: \u201c{r.text[:120]}\u201d")
        for r in rules.uncovered_requirements(prd, plan.items)
    ]


def check_traceability(prd: Prd, plan: Plan) -> list[Finding]:
    known = {r.id for r in prd.requirements}
    return [
        _err("traceability", _untraced(fault), item.key)
        for item in plan.items
        if (fault := rules.trace_fault(item, known))
    ]


def _untraced(fault: rules.TraceFault) -> str:
    if fault.names_none:
        return "Item traces to no requirement."
    return f"Item names requirement(s) the PRD does not have: {', '.join(fault.unknown)}"


def check_acceptance_criteria(plan: Plan) -> list[Finding]:
    return [
        _err("acceptance_criteria", "Item has no acceptance criteria.", item.key)
        for item in plan.items
        if not any(c.strip() for c in item.acceptance_criteria)
    ]


def check_field_limits(plan: Plan) -> list[Finding]:
    findings = []
    for item in plan.items:
        fault = rules.title_fault(item.title)
        if fault is rules.TitleFault.EMPTY:
            findings.append(_err("title_length", "Item has an empty title.", item.key))
        elif fault is rules.TitleFault.TOO_LONG:
            findings.append(
                _err(
                    "title_length",
                    f"Title is {len(item.title)} characters; GitHub allows {rules.MAX_TITLE}.",
                    item.key,
                )
            )
        if len(item.body) > rules.MAX_BODY:
            findings.append(
                _err(
                    "body_length",
                    f"Body is {len(item.body):,} characters; GitHub allows {rules.MAX_BODY:,}.",
                    item.key,
                )
            )
        for label in item.labels:
            if len(label) > rules.MAX_LABEL:
                findings.append(
                    _err("label_length", f"Label '{label[:20]}…' exceeds {rules.MAX_LABEL} characters.", item.key)
                )
    return findings


def check_keys(plan: Plan) -> list[Finding]:
    repeated = [plan.items[position].key for position in rules.repeated_key_positions(plan.items)]
    return [_err("unique_keys", f"Two items share the key {key}.", key) for key in repeated]


def check_dependencies(plan: Plan) -> list[Finding]:
    keys = {item.key for item in plan.items}
    findings = [
        _err("dependencies", _bad_dependency(dep, fault), item.key)
        for item in plan.items
        for dep, fault in rules.dependency_faults(item, keys)
    ]
    cycle = rules.dependency_cycle(plan.items)
    if cycle:
        findings.append(_err("dependencies", f"Dependency cycle: {' -> '.join(cycle)}.", cycle[0]))
    return findings


def _bad_dependency(dep: str, fault: rules.DependencyFault) -> str:
    if fault is rules.DependencyFault.ON_ITSELF:
        return "Item depends on itself."
    return f"Depends on {dep}, which is not in the plan."


def check_dependency_reasons(plan: Plan) -> list[Finding]:
    """Each "blocked by" is written into GitHub: one without a stated reason is a guess."""
    keys = {item.key for item in plan.items}
    return [
        _warn(
            "unjustified_dependency",
            f"Depends on {dep} without a reason: say what it uses from {dep}, or drop the dependency.",
            item.key,
        )
        for item in plan.items
        for dep in item.depends_on
        if dep in keys and dep != item.key and not item.dependency_reasons.get(dep, "").strip()
    ]


def check_redundant_dependencies(plan: Plan) -> list[Finding]:
    return [
        _warn(
            "redundant_dependency",
            f"Depends on {edge.dep}, which it already waits for through {edge.via}: the edge adds nothing.",
            edge.item,
        )
        for edge in redundant_edges(dependency_graph(plan.items))
    ]


def plan_shape(plan: Plan) -> PlanShape:
    graph = dependency_graph(plan.items)
    path = critical_path(graph)
    return PlanShape(critical_path=path, critical_path_length=len(path), parallel_width=parallel_width(graph))


def check_dependency_chain(plan: Plan, shape: PlanShape) -> list[Finding]:
    """A backlog that is one long chain cannot be worked in parallel; usually the edges are invented."""
    items = len(plan.items)
    if items < MIN_ITEMS_FOR_CHAIN_CHECK or shape.critical_path_length * 2 <= items:
        return []
    return [
        _warn(
            "dependency_chain",
            f"The longest dependency chain covers {shape.critical_path_length} of {items} items "
            f"({' -> '.join(shape.critical_path[:6])}{' -> …' if shape.critical_path_length > 6 else ''}): "
            "little can be worked in parallel. Keep only the dependencies the PRD gives evidence for.",
            shape.critical_path[-1],
        )
    ]


def _published_texts(plan: Plan) -> Iterable[tuple[str | None, str, str]]:
    yield None, "summary", plan.summary
    yield None, "architecture", plan.architecture.model_dump_json()
    for item in plan.items:
        yield item.key, "title", item.title
        yield item.key, "body", item.body
        yield item.key, "acceptance criteria", "\n".join(item.acceptance_criteria)
        yield item.key, "labels", " ".join(item.labels)


def check_secrets(plan: Plan) -> list[Finding]:
    """One finding per secret and place (the plan, or an item), naming every field it is in:
    the same token in a title and a body is one thing to remove, said once."""
    seen: dict[tuple[str | None, str], tuple[str, list[str]]] = {}
    for key, field, text in _published_texts(plan):
        for hit in find_secrets(text):
            _, fields = seen.setdefault((key, text[hit.start : hit.end]), (_secret_named(hit, text), []))
            if field not in fields:
                fields.append(field)
    return [
        _err(
            "secrets",
            f"{said} is in the {_joined(fields)}; it would be published. Remove it from the PRD and rotate it.",
            key,
        )
        for (key, _), (said, fields) in seen.items()
    ]


def _secret_named(hit: SecretHit, text: str) -> str:
    named = hit.named
    return f"{named[0].upper()}{named[1:]} ({hit.redacted_preview(text)})"


def _joined(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


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
    shape = plan_shape(plan)
    findings = [
        *check_prd_content(prd),
        *check_coverage(prd, plan),
        *check_traceability(prd, plan),
        *check_acceptance_criteria(plan),
        *check_field_limits(plan),
        *check_keys(plan),
        *check_dependencies(plan),
        *check_dependency_reasons(plan),
        *check_redundant_dependencies(plan),
        *check_dependency_chain(plan, shape),
        *check_secrets(plan),
        *check_confidential_sections(prd),
        *check_near_duplicates(plan),
        *check_backlog_size(plan, max_items),
    ]
    return VerificationReport.from_findings(findings, shape=shape)
