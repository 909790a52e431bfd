"""structlog set-up: JSON in production, console on a terminal, context bound per run.

Log lines go to stderr so that `passbot plan --json` keeps stdout for the run object alone.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from bot.domain.secrets import redact

# Keys whose values are secrets whatever they hold (usage fields such as `prompt_tokens` are not).
_SECRET_KEYS = frozenset(
    {"token", "secret", "password", "authorization", "api_key", "signature", "signing_secret", "bot_token"}
)


def _drop_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A last line of defence: secret-named values are blanked, and any string that contains a
    secret the guard knows (bot/domain/secret_rules.py: tokens, keys, passwords in URLs) is redacted."""
    for key, value in list(event_dict.items()):
        if key.lower() in _SECRET_KEYS or key.lower().endswith(("_token", "_secret", "_api_key")):
            event_dict[key] = "[redacted]"
        elif isinstance(value, str):
            event_dict[key] = redact(value)
    return event_dict


def configure_logging(level: str = "info", fmt: str = "auto") -> None:
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _drop_secrets,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
