"""Webhook signatures (pure): PASS's own HMAC scheme and GitHub's `X-Hub-Signature-256`.

PASS: `X-Pass-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">` with
`X-Pass-Timestamp` within five minutes of now, so a captured request cannot be replayed later.
Comparison is constant-time (`hmac.compare_digest`).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

REPLAY_WINDOW_S = 5 * 60


@dataclass(frozen=True)
class SignatureCheck:
    ok: bool
    reason: str


def sign_pass(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_pass(secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float) -> SignatureCheck:
    if not timestamp or not signature:
        return SignatureCheck(False, "missing X-Pass-Timestamp or X-Pass-Signature header")
    try:
        sent_at = int(timestamp)
    except ValueError:
        return SignatureCheck(False, "X-Pass-Timestamp is not a unix time in seconds")
    if abs(now - sent_at) > REPLAY_WINDOW_S:
        return SignatureCheck(False, "X-Pass-Timestamp is outside the 5-minute window (replayed or clock skew)")
    if not hmac.compare_digest(sign_pass(secret, timestamp, body), signature):
        return SignatureCheck(False, "signature does not match the body")
    return SignatureCheck(True, "ok")


def sign_github(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_github(secret: str, signature: str | None, body: bytes) -> SignatureCheck:
    if not signature:
        return SignatureCheck(False, "missing X-Hub-Signature-256 header")
    if not hmac.compare_digest(sign_github(secret, body), signature):
        return SignatureCheck(False, "X-Hub-Signature-256 does not match the body")
    return SignatureCheck(True, "ok")
