"""Turn an exception into a diagnosis a person can act on: what broke, where, the lines that matter."""

from __future__ import annotations

import traceback

from bot.domain.models import Failure
from bot.domain.secrets import redact


def exc_diagnosis(exc: BaseException, *, frames: int = 3) -> str:
    """Where it broke: the last few frames in PASS's own code."""
    summary = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in summary if "/bot/" in f.filename] or list(summary)
    where = [f"bot/{f.filename.rsplit('/bot/', 1)[-1]}:{f.lineno} in {f.name}" for f in ours[-frames:]]
    return f"Where: {'; '.join(where)}." if where else ""


def diagnose(step: str, exc: BaseException, *, frames: int = 3) -> Failure:
    """An error PASS has no better words for. The person is told what to do first; where it broke
    comes last, for whoever reads the worker's log."""
    message = redact(f"{type(exc).__name__}: {exc}")[:500]
    todo = (
        "This is an error inside PASS, not in your PRD. What to do: start the run again; if it fails "
        "the same way, report it with the run id (the worker's log has the traceback)."
    )
    diagnosis = f"Failed while {step}. {todo} {exc_diagnosis(exc, frames=frames)}".strip()
    return Failure(step=step, message=message, diagnosis=diagnosis)
