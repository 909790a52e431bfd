"""What people read for a finding's check: "Traceability", not `traceability`; "PRD content",
not `prd_content` (pure). The ids stay in JSON and the audit log, where tools read them."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.models import Finding, Severity

CHECK_NAMES: dict[str, str] = {
    "acceptance_criteria": "Acceptance criteria",
    "backlog_size": "Backlog size",
    "bad_key": "Item key",
    "bad_title": "Item title",
    "body_length": "Issue body length",
    "dependency_cycle": "Dependency cycle",
    "duplicate_key": "Duplicate item key",
    "empty_body": "Empty item body",
    "item_asks_credentials": "Item asks for credentials",
    "item_claims_approval": "Item claims an approval",
    "item_command_outside_policy": "Command outside the policy",
    "item_contains_secret": "Secret in an item",
    "label_length": "Label length",
    "llm_call": "Model call",
    "llm_plan": "Model plan",
    "near_duplicates": "Near-duplicate items",
    "no_items": "No work items",
    "no_requirement": "Item serves no requirement",
    "no_requirements": "No requirements found",
    "planner": "Planner",
    "prd_content": "PRD content",
    "prd_summarised": "PRD summarised",
    "prompt_injection": "Instructions aimed at an agent",
    "repo_verification": "Repo checks",
    "requirement_not_covered": "Requirement not covered",
    "sandbox": "Sandbox",
    "secrets": "Secrets",
    "self_dependency": "Item depends on itself",
    "title_length": "Title length",
    "too_many_items": "Too many items",
    "traceability": "Traceability",
    "unique_keys": "Unique item keys",
    "unknown_dependency": "Unknown dependency",
    "unknown_requirement": "Unknown requirement",
}


def check_name(check: str) -> str:
    """The human name of a finding's check; an id PASS does not know reads as words."""
    if check.startswith("repo:"):
        return f"Repo check: {check.removeprefix('repo:')}"
    return CHECK_NAMES.get(check) or check.replace("_", " ").capitalize()


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def verification_verdict(passed: bool, findings: Sequence[Finding]) -> str:
    """ "Verification passed: no errors, 1 note." rather than "passed: 1 finding(s)"."""
    counts = {s: sum(1 for f in findings if f.severity is s) for s in Severity}
    parts = [
        plural(counts[Severity.ERROR], "error") if counts[Severity.ERROR] else "no errors",
        *([plural(counts[Severity.WARNING], "warning")] if counts[Severity.WARNING] else []),
        *([plural(counts[Severity.INFO], "note")] if counts[Severity.INFO] else []),
    ]
    return f"Verification {'passed' if passed else 'failed'}: {', '.join(parts)}."
