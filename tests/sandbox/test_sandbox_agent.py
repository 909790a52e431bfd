"""Planning runs in the sandboxed agent; the broker answers, refuses and records every request."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sandbox_helpers import AGENTS, ALL_LEVELS, AVAILABLE, PYTHON, Recorder, alive_with, at

from bot.domain.models import Prd, Usage
from bot.errors import PassError
from bot.planner.port import ChatMessage, Completion, PlanningContext
from bot.planner.prd import parse_prd
from bot.sandbox.broker import Broker
from bot.sandbox.command_policy import CommandPolicy, CommandsFile
from bot.sandbox.errors import (
    AgentCrashed,
    AgentFailed,
    AgentMisbehaved,
    AgentTimedOut,
    IsolationBelowMinimum,
)
from bot.sandbox.isolation import IsolationLevel
from bot.sandbox.protocol import Job, JobContext
from bot.sandbox.runner import Limits
from bot.sandbox.sandboxed_planner import SandboxedPlanner

PRD_FILE = Path(__file__).resolve().parent.parent / "fixtures" / "prd" / "02_taskmaster_test_prd_tiny.md"
BEST = max(level for level, works in AVAILABLE.items() if works)


@pytest.fixture
def prd() -> Prd:
    return parse_prd(PRD_FILE.read_bytes())


def planner(policy: CommandPolicy, recorder: Recorder, spec: str, **kwargs: object) -> SandboxedPlanner:
    options: dict[str, object] = {"level": BEST, "timeout_s": 30, **kwargs}
    return SandboxedPlanner(
        policy=policy, record=recorder, planner=f"fixture_planners:{spec}", pythonpath=[AGENTS], **options
    )


class FakeLlm:
    """A hand-written LlmClient that answers one fixed text and remembers the prompts it got."""

    def __init__(self, content: str, usage: Usage) -> None:
        self.content = content
        self.usage = usage
        self.prompts: list[str] = []

    async def complete(
        self,
        messages: list[ChatMessage],
        *,
        json_schema: dict[str, object] | None = None,
        max_tokens: int = 4096,
    ) -> Completion:
        self.prompts.append(messages[-1].content)
        return Completion(content=self.content, usage=self.usage, model="fake-1")


@at(*ALL_LEVELS)
async def test_a_planner_runs_inside_the_agent_and_its_requests_are_recorded(
    policy, recorder: Recorder, prd: Prd, level: IsolationLevel, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("hello from the repo")
    sandboxed = planner(policy, recorder, "EchoPlanner", level=level, repo_path=repo)
    outcome = await sandboxed.plan(prd, PlanningContext(run_id="run-1"))
    assert [item.requirement_ids for item in outcome.plan.items] == [[r.id] for r in prd.requirements]
    assert "readme='hello from the repo'" in outcome.plan.summary
    assert "ruff_exit=0" in outcome.plan.summary
    assert sandboxed.last_run is not None and sandboxed.last_run.level is level
    kinds = [(e["event"], e.get("type"), e.get("decision")) for e in recorder.events]
    assert kinds == [
        ("agent.started", None, None),
        ("agent.request", "file.list", "allowed"),
        ("agent.request", "file.read", "allowed"),
        ("agent.request", "command.run", "allowed"),
        ("agent.finished", None, None),
    ]


@at(*ALL_LEVELS)
async def test_an_agent_may_run_the_repos_own_tests_only_where_repo_code_may_run(
    policy, recorder: Recorder, prd: Prd, level: IsolationLevel, tmp_path: Path
) -> None:
    """Below bwrap a repo's tests could write outside the box (PASS's venv): refused, as for verify."""
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    marker = tmp_path / "outside.txt"
    (repo / "tests" / "test_x.py").write_text(f"def test_x():\n    open({str(marker)!r}, 'w').write('pwned')\n")
    sandboxed = planner(policy, recorder, "RepoTestPlanner", level=level, repo_path=repo)
    outcome = await sandboxed.plan(prd, PlanningContext(run_id="run-1"))
    if level is IsolationLevel.BWRAP:
        assert outcome.plan.summary == "ran exit=1"  # the test ran; its write did not land
    else:
        assert outcome.plan.summary == "refused:repo-code-isolation"
        assert ("command.run", "repo-code-isolation") in recorder.refusals()
    assert not marker.exists()


async def test_llm_calls_go_through_the_broker_which_meters_them(policy, recorder: Recorder, prd: Prd) -> None:
    llm = FakeLlm("plan from the model", Usage(prompt_tokens=120, completion_tokens=30, cost_usd=0.002))
    outcome = await planner(policy, recorder, "LlmEchoPlanner", llm=llm).plan(prd, PlanningContext(run_id="r"))
    assert outcome.plan.summary == "plan from the model"
    assert llm.prompts == [prd.title]
    assert outcome.usage == Usage(prompt_tokens=120, completion_tokens=30, cost_usd=0.002)
    assert any(e.get("type") == "llm.complete" and e["decision"] == "allowed" for e in recorder.events)


async def test_without_an_llm_the_request_is_refused_and_the_run_fails_with_the_reason(
    policy, recorder: Recorder, prd: Prd
) -> None:
    with pytest.raises(AgentFailed) as caught:
        await planner(policy, recorder, "LlmEchoPlanner").plan(prd, PlanningContext(run_id="r"))
    assert "no LLM is configured" in caught.value.diagnosis
    assert ("llm.complete", "no-llm") in recorder.refusals()


async def test_denied_commands_and_reads_are_refused_with_the_rule_and_recorded(
    policy, recorder: Recorder, prd: Prd
) -> None:
    outcome = await planner(policy, recorder, "DeniedCommandPlanner").plan(prd, PlanningContext(run_id="r"))
    assert [f.message for f in outcome.findings] == [
        "refused:no-network-tools",
        "refused:shell-syntax",
        "refused:path-outside-workspace",
        "refused:path-outside-workspace",
    ]
    assert recorder.refusals() == [
        ("command.run", "no-network-tools"),
        ("command.run", "shell-syntax"),
        ("command.run", "path-outside-workspace"),
        ("file.read", "path-outside-workspace"),
    ]


@pytest.mark.skipif(not AVAILABLE[IsolationLevel.BWRAP], reason="bwrap fails here")
async def test_an_agent_finds_no_secrets_and_no_network(
    policy, recorder: Recorder, prd: Prd, decoy_bot: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_" + "x" * 36)
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        sandboxed = planner(policy, recorder, "SnoopingPlanner", model=str(port), level=IsolationLevel.BWRAP)
        outcome = await sandboxed.plan(prd, PlanningContext(run_id="r"))
    assert outcome.plan.summary.startswith("secrets=[] network=blocked:")


def job(prd: Prd) -> Job:
    return Job(prd=prd, planner="heuristic", context=JobContext(run_id="r"))


async def test_garbage_on_the_protocol_is_refused_and_recorded_and_the_run_goes_on(
    policy, recorder: Recorder, prd: Prd, workspace: Path
) -> None:
    broker = Broker(workspace=workspace, policy=policy, record=recorder, level=BEST, timeout_s=30, pythonpath=[AGENTS])
    run = await broker.run(job(prd), agent_argv=[PYTHON, str(AGENTS / "garbage_agent.py")])
    assert run.result.planner == "garbage"
    assert [rule for _, rule in recorder.refusals()] == [
        "protocol-malformed",
        "protocol-malformed",
        "protocol-unknown",
        "protocol-malformed",
        "protocol-oversized",
        "no-network-tools",
    ]
    # The agent heard a refusal for each request it could be answered on.
    assert '"rule": "protocol-unknown"' in run.result.plan.summary
    assert '"rule": "no-network-tools"' in run.result.plan.summary


async def test_an_agent_that_only_sends_garbage_is_stopped(
    policy, recorder: Recorder, prd: Prd, workspace: Path
) -> None:
    broker = Broker(workspace=workspace, policy=policy, record=recorder, level=BEST, timeout_s=30, pythonpath=[AGENTS])
    with pytest.raises(AgentMisbehaved) as caught:
        await broker.run(job(prd), agent_argv=[PYTHON, str(AGENTS / "flood_agent.py")])
    assert "refused messages" in caught.value.diagnosis
    assert recorder.events[-1]["event"] == "agent.failed"
    assert alive_with("flood_agent.py") == []


@at(*ALL_LEVELS)
async def test_a_hanging_agent_is_killed_and_the_run_fails_with_a_diagnosis(
    policy, recorder: Recorder, prd: Prd, workspace: Path, level: IsolationLevel
) -> None:
    broker = Broker(workspace=workspace, policy=policy, record=recorder, level=level, timeout_s=1, pythonpath=[AGENTS])
    with pytest.raises(AgentTimedOut) as caught:
        await broker.run(job(prd), agent_argv=[PYTHON, str(AGENTS / "hang_agent.py")])
    assert "did not finish within 1 s" in caught.value.diagnosis
    assert alive_with("hang_agent.py") == []


async def test_an_agent_that_dies_is_reported_with_its_last_words(
    policy, recorder: Recorder, prd: Prd, workspace: Path
) -> None:
    broker = Broker(workspace=workspace, policy=policy, record=recorder, level=BEST, timeout_s=30, pythonpath=[AGENTS])
    with pytest.raises(AgentCrashed) as caught:
        await broker.run(job(prd), agent_argv=[PYTHON, str(AGENTS / "crash_agent.py")])
    assert "exit code 1" in caught.value.diagnosis
    assert "could not parse the PRD section 'Goals'" in caught.value.diagnosis


async def test_a_memory_hungry_planner_fails_the_run_with_the_reason(policy, recorder: Recorder, prd: Prd) -> None:
    sandboxed = planner(policy, recorder, "MemoryHogPlanner", limits=Limits(memory_mb=512))
    with pytest.raises(AgentFailed) as caught:
        await sandboxed.plan(prd, PlanningContext(run_id="r"))
    # A per-process limit shows as Python's MemoryError; a memory cgroup over the box kills and says so.
    diagnosis = caught.value.diagnosis
    assert "MemoryError" in diagnosis or "killed for going past the memory limit of its sandbox" in diagnosis


async def test_below_the_policys_minimum_isolation_planning_is_blocked_with_the_fix(
    policy, recorder: Recorder, prd: Prd
) -> None:
    strict = CommandPolicy(
        CommandsFile.model_validate({**policy.spec.model_dump(), "sandbox": {"min_isolation": "bwrap"}})
    )
    sandboxed = planner(strict, recorder, "EchoPlanner", level=IsolationLevel.RLIMITS)
    with pytest.raises(IsolationBelowMinimum) as caught:
        await sandboxed.plan(prd, PlanningContext(run_id="r"))
    assert "apt-get install -y bubblewrap" in (caught.value.requirement.fix or "")
    assert recorder.events == [
        {"run_id": "r", "event": "agent.blocked", "actor": "system", "requirement": caught.value.requirement.name}
    ]


def test_agent_errors_are_pass_errors() -> None:
    assert issubclass(AgentFailed, PassError)
