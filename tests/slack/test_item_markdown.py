"""Work-item bodies are GitHub markdown; in a Slack thread they read as Slack formatting."""

from __future__ import annotations

from bot.domain.models import Run
from bot.domain.status import RunStatus
from bot.planner.heuristic import plan_heuristically
from bot.planner.prd import parse_prd
from bot.slack.mrkdwn import from_markdown
from bot.slack.thread_blocks import backlog_pages
from tests.helpers import PRDS


def test_a_heuristic_item_body_reads_as_slack_formatting_with_its_checklist_once() -> None:
    plan = plan_heuristically(parse_prd((PRDS / "03_taskmaster_prd_tm_start_small.md").read_text()))
    item = plan.items[0]

    shown = from_markdown(item.body)

    assert "**" not in shown and "- [ ]" not in shown
    assert "*PRD section:* Core Features" in shown.splitlines()
    assert sum(line.startswith("☐ ") for line in shown.splitlines()) == len(item.acceptance_criteria)


def test_headings_bullets_links_and_done_boxes() -> None:
    shown = from_markdown("## Context\n\n* one\n- [x] done\n[docs](https://example.com/a?b=1&c=2)")

    assert shown.splitlines() == [
        "*Context*",
        "• one",
        "☑ done",
        "docs (https://example.com/a?b=1&amp;c=2)",
    ]


def test_a_body_cannot_ping_the_channel_forge_a_link_or_show_a_secret() -> None:
    token = "ghp_" + "R7kQ2mX9vL4pT8sW1zY6bN3cF5hJ0dGaEuKi"
    shown = from_markdown(f"<!channel> see <https://evil.example|your bank> and [x](https://evil.example) {token}")

    assert "<!channel>" not in shown and "&lt;!channel&gt;" in shown
    assert "<https://" not in shown
    assert token not in shown


def test_the_backlog_page_shows_each_criterion_once() -> None:
    prd = parse_prd((PRDS / "03_taskmaster_prd_tm_start_small.md").read_text())
    plan = plan_heuristically(prd)
    run = Run(run_id="r1", status=RunStatus.AWAITING_APPROVAL, prd=prd, plan=plan, requester="U1", channel="C1")

    [page, *_] = backlog_pages(run)
    text = str(page["blocks"])
    first = plan.items[0].acceptance_criteria[0]
    assert text.count(first) == 1
