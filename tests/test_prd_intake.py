"""PRD intake on real PRDs (tests/fixtures/prd, see SOURCES.txt) and on bad input."""

from __future__ import annotations

import pytest

from bot.errors import PrdRejected
from bot.planner.prd import parse_prd
from tests.helpers import PRDS, TEMPLATE_PRD

SPEC_KIT = """# Feature Specification: Photo Albums

## User Scenarios & Testing

### User Story 1 - Create an album (Priority: P1)

A user groups photos into a named album.

**Acceptance Scenarios**:

1. **Given** a user with photos, **When** they create an album named "Trip", **Then** it appears in their list
2. **Given** an album, **When** the user renames it, **Then** the new name is shown

### User Story 2 - Share an album (Priority: P2)

A user shares an album with a link.

## Requirements

### Functional Requirements

- **FR-001**: System MUST let users create albums with a name.
- **FR-002**: System MUST let users share an album by link.
- **FR-003**: Users MUST be able to delete an album they own.

## Success Criteria

- **SC-001**: A user creates an album in under 30 seconds.
"""


def test_user_stories_in_the_loop_prd_keep_their_own_ids() -> None:
    prd = parse_prd((PRDS / "05_taskmaster_loop_prd_large.md").read_bytes())
    assert [r.id for r in prd.requirements] == ["US-1", "US-2", "US-3", "US-4", "US-5"]
    assert prd.requirement("US-4") is not None
    assert "progress.txt" in prd.requirement("US-4").text  # type: ignore[union-attr]


def test_spec_kit_ids_user_stories_and_acceptance_scenarios() -> None:
    prd = parse_prd(SPEC_KIT)
    ids = [r.id for r in prd.requirements]
    assert ids == ["US-1", "US-2", "FR-001", "FR-002", "FR-003", "SC-001"]
    story = prd.requirement("US-1")
    assert story is not None
    assert len(story.acceptance_criteria) == 2
    assert story.acceptance_criteria[0].startswith("Given a user with photos")
    assert prd.requirement("FR-003").text.startswith("Users MUST be able to delete")  # type: ignore[union-attr]


def test_taskmaster_prd_without_ids_gets_stable_structural_ids() -> None:
    raw = (PRDS / "04_taskmaster_prd_full_large.md").read_bytes()
    first, second = parse_prd(raw), parse_prd(raw)
    assert [r.id for r in first.requirements] == [r.id for r in second.requirements]
    titles = [r.text for r in first.requirements]
    assert "Task Data Structure" in titles and "User Documentation" in titles
    # Sub-bullets under a roadmap item are its acceptance criteria.
    data = next(r for r in first.requirements if r.text == "Task Data Structure")
    assert "Design and implement the tasks.json structure" in data.acceptance_criteria
    # Headings inside fenced code blocks ("# Task ID: <id>") are not sections.
    assert not any("Task ID" in r.section for r in first.requirements)


def test_tiny_plain_prd_yields_one_requirement_per_feature() -> None:
    prd = parse_prd((PRDS / "02_taskmaster_test_prd_tiny.md").read_bytes())
    assert prd.title == "Simple Todo App PRD"
    assert [r.text for r in prd.requirements] == ["Add new todos", "Mark todos as complete", "Delete todos"]


def test_template_is_recognised_and_yields_no_requirements() -> None:
    prd = parse_prd(TEMPLATE_PRD.read_bytes())
    assert prd.is_template
    assert prd.requirements == []


def test_real_prd_is_not_mistaken_for_a_template() -> None:
    for name in ("02_taskmaster_test_prd_tiny.md", "03_taskmaster_prd_tm_start_small.md"):
        assert not parse_prd((PRDS / name).read_bytes()).is_template


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"   \n\n\t ", "empty"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", "binary"),
        (b"\xff\xfe\xfa bad", "not UTF-8"),
        (b"# PRD\n" + b"word " * 50_000, "limit"),
    ],
)
def test_unusable_input_is_rejected_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(PrdRejected, match=reason):
        parse_prd(raw, max_bytes=200_000)


def test_same_text_same_hash_and_crlf_is_normalised() -> None:
    a = parse_prd(b"# T\n\n## Features\n- one thing\n- another thing\n")
    b = parse_prd(b"# T\r\n\r\n## Features\r\n- one thing\r\n- another thing\r\n")
    assert a.sha256 == b.sha256
    assert [r.id for r in a.requirements] == [r.id for r in b.requirements]


def test_a_product_whose_name_says_v2_still_has_requirements_and_its_v2_section_does_not() -> None:
    prd = parse_prd(
        b"# Billing Service v2\n\n## Features\n- Invoices are emailed monthly\n- Refunds within 14 days\n\n"
        b"## V2 features\n- Crypto payments\n"
    )
    assert [r.text for r in prd.requirements] == ["Invoices are emailed monthly", "Refunds within 14 days"]
