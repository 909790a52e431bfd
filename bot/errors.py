"""The exception tree.

    PassError                 base of everything PASS raises on purpose
    ├── BadInput              the caller's input cannot be used (exit code 2); message says why
    │   └── PrdRejected       a PRD that is empty, binary, too large or not text
    ├── RequirementsMissing   a fixable precondition is missing; the run is blocked with the fixes
    ├── IllegalTransition     a run asked to move along an edge the state machine lacks
    ├── TransitionConflict    compare-and-set lost: the run was not in the expected state
    ├── RunNotFound           no run with that id
    ├── StoreUnavailable      Redis did not answer; callers fail closed
    ├── SyncDeferred          GitHub is rate limiting or unavailable: the sync waits (the run says
    │                         until when) and its job is rescheduled; control flow, not a failure
    ├── ConfigError           a policy or setting is invalid
    ├── CostCapReached        a model call would pass the run's or the workspace's daily cost cap;
    │                         the run ends `blocked` with a "cost cap reached" requirement, not a crash
    └── LlmError              the model endpoint could not give a usable answer (the run fails)
        ├── LlmAuthError          401/403: the key (named by its env var, never shown) was refused
        ├── LlmRateLimited        429 still after bounded retries, a retry-after too long, or no quota
        ├── LlmUnavailable        5xx, timeouts, connection errors, still after bounded retries
        ├── LlmRequestRejected    400/404/422: unknown model, prompt too long, unsupported schema
        ├── LlmRefused            the model declined to answer (a refusal or a content filter)
        └── LlmOutputInvalid      the output broke the schema still after the policy's repair rounds

`CostCapReached` and `LlmError` carry `usage`: what the run had spent before it stopped, so that
spend is shown on every run, including the ones that did not finish.

A *Failure* (something the user can fix: a missing token, a template PRD) is not an exception:
it is a value on the run (`Finding`, `RequirementCheck`) shown to the person.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.domain.money import usd  # a leaf module that imports nothing

if TYPE_CHECKING:  # errors sit below the domain: these value types import nothing of PASS
    from bot.domain.values import RequirementCheck, Usage


class PassError(Exception):
    """Base of every error PASS raises on purpose."""


class BadInput(PassError):
    """The caller's input cannot be used."""


class PrdRejected(BadInput):
    """A PRD that cannot be planned at all: empty, binary, too large."""


class RequirementsMissing(PassError):
    """A precondition the user can fix is missing (a scope, a permission). The run ends `blocked`
    with these checks, each carrying its fix; it is a failure to show, not an error to log."""

    def __init__(self, checks: list[RequirementCheck], message: str) -> None:
        super().__init__(message)
        self.checks = checks


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


class SyncDeferred(PassError):
    """The sync cannot go on now (GitHub rate limit or outage); try again in `delay_s` seconds."""

    def __init__(self, run_id: str, delay_s: float, waiting: str) -> None:
        super().__init__(f"run {run_id}: {waiting}")
        self.run_id = run_id
        self.delay_s = delay_s
        self.waiting = waiting


class UpstreamUnavailable(PassError):
    """GitHub, Slack or a model endpoint did not answer (timeout, connection refused)."""


class ConfigError(PassError):
    """A policy file or a setting is invalid."""


class CostCapReached(PassError):
    """A model call was refused before it was made because it could pass a cost cap.

    `scope` is "run" or "day" (per workspace); `spent` is what that scope had spent, `estimate`
    the worst-case cost of the refused call, `cap` the limit from policies/costs.yml.
    """

    def __init__(
        self, spent: float, cap: float, scope: str, *, estimate: float = 0.0, workspace: str | None = None
    ) -> None:
        where = "this run" if scope == "run" else f"workspace {workspace or '?'} today"
        if cap <= 0:
            message = f"cost cap reached: the cap for {where} is $0, so no model call is allowed"
        else:
            message = (
                f"cost cap reached: {where} has spent {usd(spent)} of its {usd(cap)} cap, "
                f"and the next model call could cost up to {usd(estimate)}"
            )
        super().__init__(message)
        self.spent = spent
        self.cap = cap
        self.scope = scope
        self.estimate = estimate
        self.workspace = workspace
        self.usage: Usage | None = None


class LlmError(PassError):
    """The model endpoint could not give a usable answer. The message is shown to the person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.usage: Usage | None = None


class LlmAuthError(LlmError):
    """The endpoint refused the key. Names the variable that holds it; never the value."""

    def __init__(self, status: int, key_source: str, base_url: str) -> None:
        verb = "refused" if status == 401 else "does not allow this request with"
        super().__init__(
            f"the model endpoint {base_url} {verb} the API key from {key_source} (HTTP {status}); "
            f"set {key_source} to a valid key for that endpoint"
        )
        self.status = status
        self.key_source = key_source


class LlmRateLimited(LlmError):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LlmUnavailable(LlmError):
    """5xx, timeouts and connection errors that outlasted the bounded retries."""


class LlmRequestRejected(LlmError):
    """The endpoint rejected the request itself (400/404/422); retrying the same request is useless."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class LlmRefused(LlmError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"the model refused to plan this PRD: {reason}")
        self.reason = reason


class LlmOutputInvalid(LlmError):
    """The output still broke the schema after every repair round the policy allows."""

    def __init__(self, rounds: int, problems: list[str]) -> None:
        shown = "; ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else "")
        super().__init__(f"the model's plan was still invalid after {rounds} repair round(s): {shown}")
        self.rounds = rounds
        self.problems = problems
