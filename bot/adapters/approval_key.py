"""Where the key that seals approval events comes from (see bot/domain/approval_evidence.py).

It must live outside Redis, or whatever reached Redis could seal its own approval: the
environment (`PASS_APPROVAL_KEY`, shared by every process on one Redis), else, for the embedded
Redis, a file made once under PASS_DATA_DIR, which no sandbox sees.
"""

from __future__ import annotations

import contextlib
import os
import secrets

from bot.settings import Settings

KEY_FILE = "approval.key"


def load_approval_key(settings: Settings) -> bytes | None:
    if settings.approval_key is not None and settings.approval_key.get_secret_value():
        return settings.approval_key.get_secret_value().encode()
    if settings.redis_url:
        return None  # processes on other hosts would each make a different file
    path = settings.data_dir / KEY_FILE
    with contextlib.suppress(FileNotFoundError):
        return path.read_bytes().strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(32))
    return path.read_bytes().strip()
