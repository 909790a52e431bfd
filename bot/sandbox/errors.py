"""What the sandbox raises. Each error carries a `diagnosis` a person can act on.

PassError
└── SandboxError          the sandbox could not do what was asked
    ├── IsolationBelowMinimum   the best level here is weaker than the policy requires
    └── AgentFailed             the agent process ended the run
        ├── AgentCrashed        it exited (or was killed) without a result
        ├── AgentTimedOut       it ran past its wall-clock budget
        └── AgentMisbehaved     it broke the protocol too often to keep talking to it

LlmError (bot.errors)
└── AgentLlmError         the planner inside stopped on the model's answers (still invalid after
                          its repair rounds, a refusal); the message is the agent's, redacted

Errors of the parent's own LLM client (`CostCapReached`, `LlmAuthError`, ...) are not wrapped:
the broker stops the agent and re-raises them as they are, so a cap still blocks the run.
"""

from __future__ import annotations

from bot.domain.models import RequirementCheck, Usage
from bot.errors import LlmError, PassError


class SandboxError(PassError):
    def __init__(self, message: str, *, diagnosis: str = "") -> None:
        super().__init__(message)
        self.diagnosis = diagnosis or message


class IsolationBelowMinimum(SandboxError):
    def __init__(self, requirement: RequirementCheck) -> None:
        super().__init__(requirement.fix or requirement.name, diagnosis=requirement.fix or "")
        self.requirement = requirement


class AgentFailed(SandboxError):
    """The agent run cannot produce a plan; the run goes to `failed` with `diagnosis`.

    `usage` is what the parent metered for the run's model calls before it ended."""

    def __init__(self, message: str, *, diagnosis: str = "") -> None:
        super().__init__(message, diagnosis=diagnosis)
        self.usage: Usage | None = None


class AgentCrashed(AgentFailed):
    pass


class AgentTimedOut(AgentFailed):
    pass


class AgentMisbehaved(AgentFailed):
    pass


class AgentLlmError(LlmError):
    """The planner in the sandbox gave up on the model's answers and said why.

    Only the reason crosses (redacted, bounded); the usage is the parent's own count. An agent can
    never claim a cost cap this way: caps are decided, and raised, in the parent alone."""
