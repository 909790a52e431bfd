"""Requirement fixes name the right place to go, on github.com and on GitHub Enterprise."""

from __future__ import annotations

from bot.services.github_requirements import token_missing, web_url


def test_the_fix_for_a_missing_token_points_at_the_right_host() -> None:
    assert web_url("https://api.github.com") == "https://github.com"
    assert web_url("https://ghe.acme.test/api/v3") == "https://ghe.acme.test"
    check = token_missing("https://ghe.acme.test/api/v3", "acme/widgets")
    assert not check.ok and "https://ghe.acme.test/settings/tokens" in (check.fix or "")
    assert "GITHUB_TOKEN" in (check.fix or "")
