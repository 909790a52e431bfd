"""Requests to the bot signed exactly as Slack signs them (v0: HMAC-SHA256 with the signing secret).

basestring = "v0:" + X-Slack-Request-Timestamp + ":" + raw body
X-Slack-Signature = "v0=" + hex(HMAC-SHA256(signing secret, basestring))
"""

from __future__ import annotations

import hashlib
import hmac
import time


def sign(secret: str, timestamp: str, body: str) -> str:
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return f"v0={digest}"


def signed_headers(secret: str, body: str, content_type: str, *, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(now if now is not None else time.time()))
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": sign(secret, timestamp, body),
    }
