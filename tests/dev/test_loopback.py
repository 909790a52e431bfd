"""A web page cannot drive `passbot dev`: not by DNS rebinding, not by a cross-site POST."""

from __future__ import annotations

from bot.entrypoints.dev.identities import ALICE
from tests.dev.conftest import Page


async def _send(page: Page, headers: dict[str, str]) -> int:
    body = {"user": ALICE.id, "text": "/pass help"}
    async with page.http.post(f"{page.url}dev/send", json=body, headers=headers) as response:
        return response.status


async def test_a_rebound_host_name_is_refused_and_nothing_is_posted(page: Page) -> None:
    before = len((await page.state())["messages"])

    params = {"user": ALICE.id, "after": "-1"}
    async with page.http.get(f"{page.url}dev/state", params=params, headers={"Host": "evil.test:3100"}) as response:
        assert response.status == 403
        assert "loopback" in await response.text()
    assert await _send(page, {"Host": "evil.test:3100"}) == 403
    assert await _send(page, {"Origin": "https://evil.test"}) == 403
    assert await _send(page, {"Origin": "null"}) == 403

    assert len((await page.state())["messages"]) == before


async def test_the_page_itself_on_loopback_still_works(page: Page) -> None:
    origin = page.url.rstrip("/")
    assert await _send(page, {"Origin": origin}) == 200
    assert await _send(page, {"Host": "localhost:3100", "Origin": "http://localhost:3100"}) == 200
    assert await _send(page, {}) == 200
