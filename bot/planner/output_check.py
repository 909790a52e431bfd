"""Is a model's answer a plan PASS can propose? Parse, validate, and list every problem.

Three layers, each feeding the repair round with precise messages:
1. JSON and schema (no plan at all when these fail);
2. structure and coverage: unique keys, known dependencies without cycles, only the PRD's
   requirement ids, every one of them covered (the rules of `bot.domain.backlog_rules`, which
   verification applies too, worded here for the model);
3. safety of each item (see `bot.domain.item_safety`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from pydantic import ValidationError

from bot.domain import backlog_rules as rules
from bot.domain.item_safety import CommandRefusal, check_items, default_command_refusal
from bot.domain.models import Finding, Plan, Prd, Severity
from bot.planner.llm_schema import LlmPlan, to_domain

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")


@dataclass
class OutputCheck:
    plan: Plan | None
    # Why no plan could be read (bad JSON, schema errors); empty when `plan` is set.
    schema_problems: list[str] = field(default_factory=list)
    # What is wrong with a plan that could be read.
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.plan is not None and not self.findings

    def problems(self) -> list[str]:
        """Every problem as one line, for the repair prompt and for logs."""
        return self.schema_problems + [
            f"item {f.item_key}: {f.message}" if f.item_key else f.message for f in self.findings
        ]


def check_output(
    raw: str,
    prd: Prd,
    *,
    max_items: int,
    command_refusal: CommandRefusal = default_command_refusal,
) -> OutputCheck:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        return OutputCheck(plan=None, schema_problems=[f"the answer is not valid JSON ({exc})"])
    try:
        parsed = LlmPlan.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"schema: {'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors()[:20]
        ]
        return OutputCheck(plan=None, schema_problems=problems)
    plan = to_domain(parsed)
    findings = _structure(plan, prd, max_items) + [
        Finding(check=p.check, severity=Severity.ERROR, message=p.message, item_key=p.item_key)
        for p in check_items(plan.items, command_refusal)
    ]
    return OutputCheck(plan=plan, findings=findings)


def _error(check: str, message: str, item_key: str | None = None) -> Finding:
    return Finding(check=check, severity=Severity.ERROR, message=message, item_key=item_key)


def _structure(plan: Plan, prd: Prd, max_items: int) -> list[Finding]:
    findings: list[Finding] = []
    if not plan.items:
        findings.append(_error("no_items", "the plan has no work items"))
    if len(plan.items) > max_items:
        findings.append(
            _error(
                "too_many_items",
                f"the plan has {len(plan.items)} items; the limit is {max_items}: merge items",
            )
        )
    known_ids = {r.id for r in prd.requirements}
    keys = {item.key for item in plan.items}
    repeated = set(rules.repeated_key_positions(plan.items))
    for position, item in enumerate(plan.items):
        if position in repeated:
            findings.append(_error("duplicate_key", f"key {item.key} is used by more than one item", item.key))
        if not _KEY.match(item.key):
            findings.append(_error("bad_key", "key must be 1-32 letters, digits, '.', '_' or '-' (like W1)", item.key))
        if rules.title_fault(item.title):
            findings.append(_error("bad_title", f"title must be 1-{rules.MAX_TITLE} characters", item.key))
        if not item.body:
            findings.append(_error("empty_body", "body is empty", item.key))
        if trace := rules.trace_fault(item, known_ids):
            findings.append(_untraced(trace, item.key))
        findings += [_bad_dependency(dep, fault, item.key) for dep, fault in rules.dependency_faults(item, keys)]
    cycle = rules.dependency_cycle(plan.items)
    if cycle:
        findings.append(_error("dependency_cycle", f"dependencies form a cycle: {' -> '.join(cycle)}"))
    findings += [
        _error(
            "requirement_not_covered",
            f"requirement {requirement.id} is not covered by any item ({_clip(requirement.text)})",
        )
        for requirement in rules.uncovered_requirements(prd, plan.items)
    ]
    return findings


def _untraced(fault: rules.TraceFault, item_key: str) -> Finding:
    if fault.names_none:
        return _error("no_requirement", "names no requirement id", item_key)
    unknown = ", ".join(fault.unknown)
    return _error("unknown_requirement", f"names requirement ids the PRD does not have: {unknown}", item_key)


def _bad_dependency(dep: str, fault: rules.DependencyFault, item_key: str) -> Finding:
    if fault is rules.DependencyFault.ON_ITSELF:
        return _error("self_dependency", "depends on itself", item_key)
    return _error("unknown_dependency", f"depends on {dep}, which is not an item key", item_key)


def _clip(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
