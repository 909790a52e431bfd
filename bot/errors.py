"""The exception tree.

    PassError                 base of everything PASS raises on purpose
    ├── BadInput              the caller's input cannot be used (exit code 2); message says why
    │   └── PrdRejected       a PRD that is empty, binary, too large or not text
    ├── IllegalTransition     a run asked to move along an edge the state machine lacks
    ├── TransitionConflict    compare-and-set lost: the run was not in the expected state
    ├── RunNotFound           no run with that id
    ├── StoreUnavailable      Redis did not answer; callers fail closed
    └── ConfigError           a policy or setting is invalid

A *Failure* (something the user can fix: a missing token, a template PRD) is not an exception:
it is a value on the run (`Finding`, `RequirementCheck`) shown to the person.
"""

from __future__ import annotations


class PassError(Exception):
    """Base of every error PASS raises on purpose."""


class BadInput(PassError):
    """The caller's input cannot be used."""


class PrdRejected(BadInput):
    """A PRD that cannot be planned at all: empty, binary, too large."""


class IllegalTransition(PassError):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"a run in state '{current}' cannot move to '{target}'")
        self.current = current
        self.target = target


class TransitionConflict(PassError):
    def __init__(self, run_id: str, expected: str, actual: str) -> None:
        super().__init__(f"run {run_id} is '{actual}', not '{expected}'")
        self.run_id = run_id
        self.expected = expected
        self.actual = actual


class RunNotFound(PassError):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"no run with id {run_id}")
        self.run_id = run_id


class StoreUnavailable(PassError):
    """Redis did not answer. Nothing is approved or synced while this holds."""


class ConfigError(PassError):
    """A policy file or a setting is invalid."""
