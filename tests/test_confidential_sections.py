"""A confidential PRD section is never dropped silently: the findings name it and say why."""

from __future__ import annotations

from bot.domain.verification import verify_backlog
from bot.planner.heuristic import plan_heuristically
from bot.planner.prd import parse_prd
from tests.helpers import PRDS

SPEC = (PRDS / "speckit" / "webhook-relay-spec.md").read_text()


def _confidential(prd_text: str) -> list[str]:
    prd = parse_prd(prd_text)
    report = verify_backlog(prd, plan_heuristically(prd))
    return [f.message for f in report.findings if f.check == "confidential"]


def test_a_confidential_section_with_no_requirement_is_named_as_withheld() -> None:
    prd = SPEC + "\n## Confidential: Pricing experiments\n\nEnterprise gets 40% off; trials drop to 7 days.\n"

    (message,) = _confidential(prd)

    assert message == (
        "Section “Confidential: Pricing experiments” was withheld from the plan: its heading marks it "
        "confidential, so nothing in it is planned or published."
    )
    assert "40%" not in message


def test_requirements_from_a_confidential_section_are_planned_and_said_to_stay_off_public_repos() -> None:
    prd = SPEC + "\n## Internal only: Launch partners\n\n- **FR-020**: System MUST onboard Acme first.\n"

    (message,) = _confidential(prd)

    assert "“Internal only: Launch partners”" in message and "FR-020" in message
    assert "withheld from a public repository" in message


def test_a_prd_without_confidential_sections_says_nothing_about_them() -> None:
    assert _confidential(SPEC) == []
