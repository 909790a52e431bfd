"""Plain-text rendering of a run for the terminal (pure: a Run in, lines out)."""

from __future__ import annotations

from bot.domain.check_names import check_name
from bot.domain.earlier_sync import already_synced
from bot.domain.models import Run, Severity
from bot.domain.money import usd
from bot.domain.status import RunStatus

_MARK = {Severity.ERROR: "✗", Severity.WARNING: "!", Severity.INFO: "·"}


def render_run(run: Run) -> str:
    lines: list[str] = []
    title = run.prd.title if run.prd else "(no PRD)"
    lines.append(f"PASS run {run.run_id} — {title}")
    lines.append(f"status: {run.status.value} · planner: {run.planner} · source: {run.source.value}")
    if run.prd:
        lines.append(f"requirements found in the PRD: {len(run.prd.requirements)}")
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
    return "\n".join(lines)
