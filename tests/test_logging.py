"""No secret reaches a log line, whatever key it hides under; usage counters still do."""

from __future__ import annotations

import io
import json
import sys

import structlog

from bot.logging import configure_logging, get_logger

PAT = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"


def test_log_lines_carry_no_secret_but_keep_token_counts(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    configure_logging("info", "json")
    try:
        get_logger("t").info("llm_call", prompt_tokens=1200, github_token=PAT, error=f"clone failed with {PAT}")
    finally:
        structlog.reset_defaults()
    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert PAT not in out.getvalue()
    assert line["prompt_tokens"] == 1200
    assert line["github_token"] == "[redacted]"
    assert "[redacted github-pat]" in line["error"]
