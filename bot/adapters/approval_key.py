"""Where the key that seals approval events comes from (see bot/domain/approval_evidence.py).

It must live outside Redis, or whatever reached Redis could seal its own approval: the
environment (`PASS_APPROVAL_KEY`, shared by every process on one Redis), else, for the embedded
Redis, a file made once under PASS_DATA_DIR, which no sandbox sees.
"""

from __future__ import annotations

from bot.adapters.secret_file import read_or_create_secret
from bot.settings import Settings

KEY_FILE = "approval.key"


def load_approval_key(settings: Settings) -> bytes | None:
    if settings.approval_key is not None and settings.approval_key.get_secret_value():
        return settings.approval_key.get_secret_value().encode()
    if settings.redis_url:
        return None  # processes on other hosts would each make a different file
    return read_or_create_secret(settings.data_dir / KEY_FILE).encode()
