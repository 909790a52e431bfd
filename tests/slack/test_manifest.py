"""manifest.yml is a valid Slack app manifest that matches what the app listens for."""

from __future__ import annotations

import re
from typing import Any

import yaml

from bot.slack.actions import COMMAND, ShortcutId
from tests.helpers import REPO_ROOT

MANIFEST: dict[str, Any] = yaml.safe_load((REPO_ROOT / "manifest.yml").read_text())


def test_the_manifest_keeps_to_slacks_documented_fields_and_limits() -> None:
    # Field names and limits: tests/fixtures/slack/MANIFEST_FIELDS.md
    assert set(MANIFEST) <= {"_metadata", "display_information", "features", "oauth_config", "settings", "functions"}
    info = MANIFEST["display_information"]
    assert 0 < len(info["name"]) <= 35 and len(info["description"]) <= 140 and len(info["long_description"]) <= 4000
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", info["background_color"])
    bot_user = MANIFEST["features"]["bot_user"]
    assert re.fullmatch(r"[a-z0-9._-]{1,80}", bot_user["display_name"])
    for command in MANIFEST["features"]["slash_commands"]:
        assert command["command"].startswith("/") and len(command["command"]) <= 32
        assert len(command["description"]) <= 2000 and len(command.get("usage_hint", "")) <= 1000
    for shortcut in MANIFEST["features"]["shortcuts"]:
        assert shortcut["type"] in {"global", "message"}
        assert len(shortcut["callback_id"]) <= 255 and len(shortcut["description"]) <= 150
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True


def test_the_manifest_declares_what_the_app_handles_with_minimal_scopes() -> None:
    assert [c["command"] for c in MANIFEST["features"]["slash_commands"]] == [COMMAND]
    assert [s["callback_id"] for s in MANIFEST["features"]["shortcuts"]] == [ShortcutId.PLAN_WITH_PASS.value]
    assert MANIFEST["settings"]["event_subscriptions"]["bot_events"] == ["app_mention"]
    assert MANIFEST["settings"]["socket_mode_enabled"] is True
    assert set(MANIFEST["oauth_config"]["scopes"]["bot"]) == {
        "app_mentions:read",
        "chat:write",
        "chat:write.public",
        "commands",
        "files:read",
        "files:write",
        "usergroups:read",
    }
    assert "user" not in MANIFEST["oauth_config"]["scopes"], "PASS acts as its bot only"
