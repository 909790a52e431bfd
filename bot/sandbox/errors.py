"""What the sandbox raises. Each error carries a `diagnosis` a person can act on.

PassError
└── SandboxError          the sandbox could not do what was asked
    ├── IsolationBelowMinimum   the best level here is weaker than the policy requires
    └── AgentFailed             the agent process ended the run
        ├── AgentCrashed        it exited (or was killed) without a result
        ├── AgentTimedOut       it ran past its wall-clock budget
        └── AgentMisbehaved     it broke the protocol too often to keep talking to it
"""

from __future__ import annotations

from bot.domain.models import RequirementCheck
from bot.errors import PassError


class SandboxError(PassError):
    def __init__(self, message: str, *, diagnosis: str = "") -> None:
        super().__init__(message)
        self.diagnosis = diagnosis or message


class IsolationBelowMinimum(SandboxError):
    def __init__(self, requirement: RequirementCheck) -> None:
        super().__init__(requirement.fix or requirement.name, diagnosis=requirement.fix or "")
        self.requirement = requirement


class AgentFailed(SandboxError):
    """The agent run cannot produce a plan; the run goes to `failed` with `diagnosis`."""


class AgentCrashed(AgentFailed):
    pass


class AgentTimedOut(AgentFailed):
    pass


class AgentMisbehaved(AgentFailed):
    pass
