"""Turn an exception into a diagnosis a person can act on: what broke, where, the lines that matter."""

from __future__ import annotations

import traceback

from bot.domain.models import Failure
from bot.domain.secrets import redact


def diagnose(step: str, exc: BaseException, *, frames: int = 3) -> Failure:
    summary = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in summary if "/bot/" in f.filename] or list(summary)
    where = [f"{f.filename.rsplit('/bot/', 1)[-1]}:{f.lineno} in {f.name}" for f in ours[-frames:]]
    message = redact(f"{type(exc).__name__}: {exc}")[:500]
    diagnosis = f"Failed while {step}. " + (f"Where: {'; '.join(where)}." if where else "")
    return Failure(step=step, message=message, diagnosis=diagnosis)
