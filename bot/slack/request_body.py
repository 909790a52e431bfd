"""What a Slack HTTP request body says, parsed by its form fields rather than by substring.

slack_bolt 1.x (`slack_bolt.request.internals.parse_body`) decides that a form body is an
interactivity payload when the raw text contains the substring "payload" anywhere, then looks
for a `payload` field and, finding none, gives the listeners `{}`. A slash command whose text
says "payload" (a webhook spec, an API PRD) therefore matches no listener and Slack shows the
user `http_404`. Slack's rule is about the field: interactivity arrives as one form field named
`payload` holding JSON; a slash command is a plain form; events are JSON.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

FORM = "application/x-www-form-urlencoded"


def is_json(raw: str, content_type: str | None) -> bool:
    # The same test Bolt applies, so JSON bodies (events, url_verification) parse as Bolt parses them.
    return content_type == "application/json" or raw.startswith("{")


def parse_slack_body(raw: str, content_type: str | None) -> dict[str, Any]:
    """The body as a listener should see it: JSON for events, the decoded `payload` field for
    interactivity, and the form's own fields for a slash command."""
    if not raw:
        return {}
    if is_json(raw, content_type):
        parsed: dict[str, Any] = json.loads(raw)
        return parsed
    fields = dict(parse_qsl(raw, keep_blank_values=True))
    payload = fields.get("payload")
    if payload is not None:
        interactive: dict[str, Any] = json.loads(payload)
        return interactive
    return fields
