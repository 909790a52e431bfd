"""Plain-text rendering of a run for the terminal (pure: a Run in, lines out)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.domain.check_names import check_name
from bot.domain.earlier_sync import already_synced
from bot.domain.models import Run, Severity
from bot.domain.money import usd
from bot.domain.secrets import redact
from bot.domain.status import RunStatus

if TYPE_CHECKING:  # the verify package pulls in the sandbox; only its result type is needed here
    from bot.verify.repo import RepoVerification

_MARK = {Severity.ERROR: "✗", Severity.WARNING: "!", Severity.INFO: "·"}


def render_run(run: Run) -> str:
    lines: list[str] = []
    title = run.prd.title if run.prd else "(no PRD)"
    lines.append(f"PASS run {run.run_id} — {title}")
    lines.append(f"status: {run.status.value} · planner: {run.planner} · source: {run.source.value}")
    if run.prd:
        lines += requirement_lines(run)
    lines.append(f"sandbox: {sandbox_text(run)}")
    failing = [c for c in run.requirements if not c.ok]
    if failing:
        lines.append("")
        lines.append("Requirements missing:")
        lines += [f"  ✗ {c.name}: {c.fix}" for c in failing]
    if run.plan:
        lines.append("")
        lines.append(run.plan.summary)
        if run.plan.architecture.overview:
            lines.append(f"Overview: {run.plan.architecture.overview[:300]}")
        lines.append("")
        lines.append(f"Backlog ({len(run.plan.items)} items):")
        for item in run.plan.items:
            deps = f" ← {', '.join(item.depends_on)}" if item.depends_on else ""
            lines.append(f"  {item.key} [{item.estimate}] {item.title}{deps}")
    if run.earlier_sync is not None and run.status is RunStatus.AWAITING_APPROVAL:
        lines.append("")
        lines.append(already_synced(run.earlier_sync))
        lines.append("Approving writes nothing (skip); approve with --update to rewrite those issues from this plan.")
    said = {c.fix for c in failing}
    # A finding already shown above as a missing requirement (with its fix) is not repeated.
    findings = [f for f in (run.verification.findings if run.verification else []) if f.message not in said]
    if findings:
        lines.append("")
        verdict = "passed" if run.verification and run.verification.passed else "FAILED"
        lines.append(f"Verification {verdict}:")
        for finding in findings:
            where = f" ({finding.item_key})" if finding.item_key else ""
            lines.append(f"  {_MARK[finding.severity]} {check_name(finding.check)}{where}: {finding.message}")
    elif run.verification and run.verification.passed:
        lines.append("")
        lines.append("Verification passed: no findings.")
    usage = run.usage
    if usage.prompt_tokens or usage.completion_tokens:
        lines.append(
            f"Usage: {usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens, {usd(usage.cost_usd)}"
        )
    if run.failure:
        lines.append("")
        lines.append(f"Failed while {run.failure.step}: {run.failure.message}")
        lines.append(f"  {run.failure.diagnosis}")
    if run.status is RunStatus.SYNCED:
        lines.append("")
        lines.append(render_outcome(run))
    if run.status.in_progress or run.status is RunStatus.QUEUED:
        last = run.history[-1] if run.history else None
        since = last.at.isoformat(timespec="seconds") if last else run.created_at.isoformat(timespec="seconds")
        lines.append("")
        lines.append(f"Stopped in '{run.status.value}' since {since} (no step has finished since then).")
    return redact("\n".join(lines))


SHOWN_REQUIREMENTS = 40


def requirement_lines(run: Run) -> list[str]:
    """The requirements PASS found: each id and the start of its text."""
    assert run.prd is not None
    found = run.prd.requirements
    lines = [f"requirements found in the PRD: {len(found)}"]
    width = max((len(r.id) for r in found[:SHOWN_REQUIREMENTS]), default=0)
    for requirement in found[:SHOWN_REQUIREMENTS]:
        # Redacted before it is shortened: a secret cut in half no longer looks like one.
        title = redact(" ".join(requirement.text.split()))
        title = title if len(title) <= 90 else title[:89].rstrip() + "…"
        lines.append(f"  {requirement.id:<{width}}  {title}")
    if len(found) > SHOWN_REQUIREMENTS:
        lines.append(f"  … and {len(found) - SHOWN_REQUIREMENTS} more (passbot status {run.run_id} --json lists all)")
    return lines


def sandbox_text(run: Run) -> str:
    if run.isolation:
        return f"the planner ran in the {run.isolation} sandbox"
    if run.planner == "heuristic":
        return "none needed: the offline heuristic planner runs no agent and no command"
    if run.status is RunStatus.QUEUED or run.plan is None:
        return "not started yet"
    return "not recorded for this run"


def render_verification(result: RepoVerification) -> str:
    """`passbot verify` for the terminal: the sandbox and what it enforced, the requirements checked,
    each check, then the diagnosis of the first failure."""
    lines = [f"{result.target}: sandbox {result.isolation} ({', '.join(result.enforced) or 'nothing enforced'})"]
    if result.requirements:
        lines.append("Requirements:")
        lines += [
            f"  {'✓' if r.ok else '✗'} {r.name}" + (f": {r.fix}" if r.fix and not r.ok else "")
            for r in result.requirements
        ]
    if result.checks:
        lines.append("Checks:")
        lines += [
            f"  {'✓' if not c.failed else '✗'} {c.name:<14} {c.status} ({c.duration_s:.1f}s)" for c in result.checks
        ]
    lines.append("")
    if result.diagnosis is not None:
        lines.append(result.diagnosis.render())
    else:
        lines.append(f"All {len(result.checks)} checks passed ({result.isolation} sandbox).")
    lines += [f"  note: {note}" for note in result.notes]
    return "\n".join(lines)


def render_outcome(run: Run) -> str:
    """What the sync step did: the final status line and where the backlog went."""
    lines = [f"status: {run.status.value}"]
    if run.failure:
        lines.append(f"Failed while {run.failure.step}: {run.failure.message}")
    elif run.status is RunStatus.SYNCED and run.sync.dry_run:
        lines.append(run.sync.note or "Dry run: nothing was written to GitHub.")
    elif run.status is RunStatus.SYNCED and run.earlier_sync is not None and run.on_earlier == "skip":
        lines.append(run.sync.note)
    elif run.status is RunStatus.SYNCED:
        verb = "Updated and created in" if run.earlier_sync is not None else "Created in"
        lines.append(f"{verb} {run.sync.target}:")
        lines += [f"  {i.key}: #{i.number} {i.url}" if i.number else f"  {i.key}: not created" for i in run.sync.issues]
        if run.sync.note:
            lines.append(run.sync.note)
    else:
        missing = [c for c in run.requirements if not c.ok]
        lines += [f"  ✗ {c.name}: {c.fix}" for c in missing]
    return redact("\n".join(lines))
