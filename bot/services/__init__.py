"""Use cases: start a run, execute it, approve, reject, sync, digest."""
