"""The full plan as one markdown document, attached to the thread (pure).

Slack messages summarise and page; this file holds everything, so nothing is lost to a limit.
"""

from __future__ import annotations

from bot.domain.models import Run
from bot.domain.money import usd
from bot.services.dry_run import render_backlog_markdown


def plan_filename(run: Run) -> str:
    return f"pass-plan-{run.run_id}.md"


def plan_markdown(run: Run) -> str:
    if run.plan is None or run.prd is None:
        return f"# Run {run.run_id}\n\nNo plan was made ({run.status.value}).\n"
    arch = run.plan.architecture
    lines = [render_backlog_markdown(run).rstrip(), "", "# Architecture", "", arch.overview.strip(), ""]
    for component in arch.components:
        lines.append(f"- **{component.get('name', '')}**: {component.get('responsibility', '')}")
    for title, entries in arch.listed_sections():
        if entries:
            lines += ["", f"## {title}", "", *(f"- {e}" for e in entries)]
    if run.verification:
        lines += ["", "# Verification", "", f"Passed: {'yes' if run.verification.passed else 'no'}", ""]
        for f in run.verification.findings:
            where = f" ({f.item_key})" if f.item_key else ""
            lines.append(f"- [{f.severity.value}] {f.check}{where}: {f.message}")
    if run.requirements:
        lines += ["", "# Requirements", ""]
        lines += [f"- [{'x' if c.ok else ' '}] {c.name}" + (f": {c.fix}" if c.fix else "") for c in run.requirements]
    u = run.usage
    lines += [
        "",
        "# Usage",
        "",
        f"{u.prompt_tokens} prompt + {u.completion_tokens} completion tokens, {usd(u.cost_usd)}; "
        f"planner {run.planner}; plan hash {run.plan_hash or '-'}",
        "",
    ]
    return "\n".join(lines)
