"""The words for a PRD that was already synced to the same repo (pure; the card, the thread and
the CLI say the same thing)."""

from __future__ import annotations

from bot.domain.models import EarlierSync, SyncedIssue, SyncResult


def issue_numbers(earlier: EarlierSync) -> list[int]:
    """The earlier issues' numbers, the tracking issue included, in order."""
    issues = [*earlier.issues, *([earlier.tracking] if earlier.tracking else [])]
    return sorted({i.number for i in issues if i.number is not None})


def number_span(numbers: list[int]) -> str:
    """#12–#19 for a run of consecutive numbers, else #12, #14, #15 (at most eight named)."""
    if not numbers:
        return "no issues"
    if len(numbers) > 1 and numbers[-1] - numbers[0] == len(numbers) - 1:
        return f"#{numbers[0]}–#{numbers[-1]}"
    named = ", ".join(f"#{n}" for n in numbers[:8])
    return named + (f" and {len(numbers) - 8} more" if len(numbers) > 8 else "")


def already_synced(earlier: EarlierSync) -> str:
    return (
        f"This PRD was already synced to {earlier.repo} as {number_span(issue_numbers(earlier))} "
        f"by run {earlier.run_id}."
    )


def skipped_sync(earlier: EarlierSync) -> SyncResult:
    """The outcome of approving with "skip": nothing written, the earlier issues pointed to."""
    issues = [SyncedIssue(key=i.key, number=i.number, url=i.url) for i in earlier.issues]
    return SyncResult(
        target=earlier.repo,
        dry_run=False,
        issues=issues,
        tracking=earlier.tracking,
        note=f"Nothing was written: {already_synced(earlier)} The approver chose to skip; "
        "approve with update to rewrite those issues from this plan.",
    )
