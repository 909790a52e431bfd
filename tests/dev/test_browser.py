"""`passbot dev` end to end in a real headless Chromium: a person types `/pass plan` with a real
PRD, watches the card, opens the thread, is refused as the requester, switches to an approver,
approves through the confirm dialog and sees the staged issue keys.

Needs Debian's chromium (`apt-get install -y chromium`) and the playwright package (its own
browser downloads are never used); skipped, saying so, when either is missing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.dev.conftest import TINY_PRD, VERIFIED_REPO, DevProcess

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium: apt-get install -y chromium"
    ),
]
playwright = pytest.importorskip(
    "playwright.async_api", reason="needs the playwright package (pip install playwright; no browser download)"
)
expect = playwright.expect
WAIT_MS = 20_000  # a hang guard: each step normally takes well under a second


@pytest.fixture
async def browser_page(dev_process: DevProcess, tmp_path: Path) -> AsyncIterator[Any]:
    async with playwright.async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(dev_process.url)
        try:
            yield page
        finally:
            await browser.close()
        assert not errors, f"the page's script failed: {errors}"


async def test_plan_in_the_browser_refused_for_the_requester_approved_by_another_person(
    browser_page: Any, tmp_path: Path
) -> None:
    try:
        await walk_through(browser_page)
    except BaseException:
        # What the person saw when it went wrong.
        await browser_page.screenshot(path=str(tmp_path / "failure.png"))
        raise


async def walk_through(page: Any) -> None:
    await page.fill("#compose-text", f"/pass plan {TINY_PRD}")
    await page.click("#send")

    card = page.locator("#messages .msg").first
    await expect(card).to_contain_text("Waiting for approval", timeout=WAIT_MS)
    keys = [k.strip() for k in await card.locator("[data-block-type=section] code").all_inner_texts()]
    keys = [k for k in keys if k.startswith("T")]
    assert keys == ["T01", "T02", "T03"], keys

    await page.locator("#messages [data-open-thread]").click(timeout=WAIT_MS)
    thread = page.locator("#thread-messages")
    await expect(thread).to_contain_text("Backlog", timeout=WAIT_MS)
    await expect(thread.locator("details.file")).to_contain_text(".md", timeout=WAIT_MS)

    # The requester approves her own plan: the confirm dialog, then an ephemeral refusal.
    await thread.locator("[data-action-id='pass.approve']").click()
    dialog = page.locator("[data-dialog=confirm]")
    await expect(dialog).to_contain_text("Approve this plan?")
    await dialog.locator("[data-confirm=confirm]").click()
    refusal = page.locator("#messages .msg.ephemeral")
    await expect(refusal).to_contain_text("You requested this run", timeout=WAIT_MS)
    await expect(refusal).to_contain_text("Only visible to you")
    await expect(card).to_contain_text("Waiting for approval")

    # Another person does not see alice's ephemeral message, and may approve.
    await page.click("[data-user=U0BOB]")
    await expect(page.locator("[data-user=U0BOB]")).to_have_attribute("aria-checked", "true")
    await expect(page.locator("#messages .msg.ephemeral")).to_have_count(0, timeout=WAIT_MS)
    await card.locator("[data-action-id='pass.approve']").click()
    await page.locator("[data-dialog=confirm] [data-confirm=confirm]").click()

    await expect(card).to_contain_text("Staged (dry run", timeout=WAIT_MS)
    await expect(card).to_contain_text("Approved by @bob")
    staged = card.locator("[data-block-type=section]", has_text="Staged:")
    for key in keys:
        await expect(staged).to_contain_text(key)
    await expect(page.locator("#violations-total")).to_have_text("No Slack limit broken so far")


async def test_pass_verify_in_the_browser_is_answered_with_emoji_rendered(browser_page: Any, tmp_path: Path) -> None:
    page = browser_page
    try:
        await page.fill("#compose-text", f"/pass verify {VERIFIED_REPO}")
        await page.click("#send")
        answers = page.locator("#messages .msg.ephemeral")
        await expect(answers.first).to_contain_text(f"Checking {VERIFIED_REPO} in the sandbox", timeout=WAIT_MS)
        await expect(answers.first).to_contain_text("\u23f3")  # :hourglass_flowing_sand:, drawn as Slack draws it
        await expect(answers.first).not_to_contain_text(":hourglass_flowing_sand:")
        await expect(answers).to_have_count(2, timeout=WAIT_MS)
        await expect(answers.nth(1)).to_contain_text("checks passed")
        await expect(answers.nth(1)).to_contain_text("\u2705")  # :white_check_mark:
    except BaseException:
        await page.screenshot(path=str(tmp_path / "failure.png"))
        raise


async def test_the_items_count_follows_the_ticks_and_the_message_shortcut_plans_a_message(
    browser_page: Any, tmp_path: Path
) -> None:
    page = browser_page
    try:
        await page.fill("#compose-text", f"/pass plan {TINY_PRD}")
        await page.click("#send")
        card = page.locator("#messages .msg").first
        await expect(card).to_contain_text("Waiting for approval", timeout=WAIT_MS)
        await page.click("[data-user=U0BOB]")
        await card.locator("[data-action-id='pass.choose_items']").click()
        modal = page.locator("#modal-layer form.modal")
        await expect(modal).to_contain_text("(3 now)", timeout=WAIT_MS)
        await modal.locator("input[type=checkbox]").first.uncheck()
        await expect(modal).to_contain_text("(2 now)", timeout=WAIT_MS)
        await expect(modal.locator("input[type=checkbox]").first).not_to_be_checked()
        await modal.locator("[data-modal=close]").click()
        await expect(modal).to_have_count(0, timeout=WAIT_MS)

        # bob pastes a PRD as a plain message; "More actions → Plan with PASS" plans it in its thread.
        await page.fill("#compose-text", TINY_PRD)
        await page.click("#send")
        message = page.locator("#messages .msg", has_text="Create a basic todo list").last
        await message.hover()
        await message.locator(".more-actions summary").click()
        await message.locator("[data-shortcut='pass.plan_with_pass']").click()
        await message.locator("[data-open-thread]").click(timeout=WAIT_MS)
        await expect(page.locator("#thread-messages")).to_contain_text("Waiting for approval", timeout=WAIT_MS)
    except BaseException:
        await page.screenshot(path=str(tmp_path / "failure.png"))
        raise
