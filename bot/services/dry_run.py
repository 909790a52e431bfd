"""The sync step when GitHub is not configured: the staged backlog is written to disk instead.

Files land in `PASS_DATA_DIR/runs/<run_id>/` as `plan.json` (the run object) and `backlog.md`
(what the issues would say), so a person can read exactly what would have been created.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from bot.domain.models import RequirementCheck, Run, SyncedIssue, SyncResult
from bot.domain.secrets import redact
from bot.services.ports import SyncProgress


def render_backlog_markdown(run: Run) -> str:
    assert run.plan is not None and run.prd is not None
    lines = [
        f"# {run.prd.title}",
        "",
        f"Run `{run.run_id}` · planner: {run.planner} · plan hash `{(run.plan_hash or '')[:12]}`",
        "",
        run.plan.summary,
        "",
    ]
    for item in run.plan.items:
        lines += [
            f"## {item.key}: {item.title}",
            "",
            f"Requirements: {', '.join(item.requirement_ids)} · estimate {item.estimate} · "
            f"labels: {', '.join(item.labels) or '-'}"
            + (f" · blocked by {', '.join(item.depends_on)}" if item.depends_on else ""),
            "",
            item.body,
            "",
        ]
    # What the issues would say, as they would say it: never a secret (GitHub's copy is redacted too).
    return redact("\n".join(lines))


class DryRunSyncer:
    target_kind = "dry-run"

    def __init__(self, runs_dir: Path, *, reason: str) -> None:
        self._runs_dir = runs_dir
        self._reason = reason

    async def check_requirements(self, run: Run) -> list[RequirementCheck]:
        return []

    def folder(self, run_id: str) -> Path:
        return self._runs_dir / run_id

    async def sync(self, run: Run, progress: SyncProgress | None = None) -> SyncResult:
        folder = self.folder(run.run_id)
        await asyncio.to_thread(self._write, run, folder)
        items = run.plan.items if run.plan else []
        if progress:
            await progress(len(items), len(items))
        return SyncResult(
            target=run.repo,
            dry_run=True,
            issues=[SyncedIssue(key=i.key) for i in items],
            note=f"Dry run ({self._reason}): nothing was written to GitHub. The backlog is in {folder}",
        )

    def _write(self, run: Run, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "plan.json").write_text(json.dumps(run.contract(), indent=2) + "\n", encoding="utf-8")
        (folder / "backlog.md").write_text(render_backlog_markdown(run), encoding="utf-8")
