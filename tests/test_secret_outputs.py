"""Secrets stay out of every output a user reads outside Slack and GitHub: `passbot plan`'s text
and JSON, its log lines, and the dry-run backlog files (issue #17)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.domain.models import ArchitecturePack, Plan, Prd, Requirement, Run, WorkItem
from bot.domain.status import RunStatus
from bot.services.dry_run import DryRunSyncer
from tests.helpers import clean_env, passbot, stop_embedded_server
from tests.secret_corpus import POSITIVES, leaky_prd

PRD, SECRETS = leaky_prd()


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "data"
    yield path
    stop_embedded_server(path)


@pytest.mark.slow
def test_passbot_plan_shows_no_secret_names_each_once_and_says_what_was_withheld(
    tmp_path: Path, data_dir: Path
) -> None:
    prd = tmp_path / "billing.md"
    prd.write_text(PRD, encoding="utf-8")

    text = passbot("plan", str(prd), "--dry-run", env=clean_env(data_dir))
    as_json = passbot("plan", str(prd), "--dry-run", "--json", env=clean_env(data_dir))

    assert text.returncode == as_json.returncode == 3  # verification failed: nothing is synced
    shown = (text.stdout + text.stderr + as_json.stdout + as_json.stderr).decode()
    for case in SECRETS:
        assert case.shown_parts(shown) == [], case.secret[:4]
    lines = text.stdout.decode().splitlines()
    secret_lines = [line for line in lines if line.strip().startswith("✗ Secrets")]
    assert len(secret_lines) == len(SECRETS), secret_lines
    (withheld,) = [line for line in lines if "Confidential" in line and ":" in line]
    assert "“Confidential: Pricing experiments” was withheld from the plan" in withheld
    findings = json.loads(as_json.stdout)["verification"]["findings"]
    assert [f["check"] for f in findings].count("secrets") == len(SECRETS)


async def test_the_dry_run_backlog_files_show_no_secret(tmp_path: Path) -> None:
    requirements = [Requirement(id="FR-001", text=f"Pay with {POSITIVES[0].text}", explicit_id=True)]
    items = [
        WorkItem(key=f"T{n}", title=case.name, body=case.text, requirement_ids=["FR-001"])
        for n, case in enumerate(POSITIVES, start=1)
    ]
    plan = Plan(summary=f"Billing. {POSITIVES[1].text}", architecture=ArchitecturePack(), items=items)
    run = Run(
        run_id="run-secrets",
        status=RunStatus.SYNCING,
        requester="U1",
        prd=Prd(sha256="0" * 64, title="Billing", requirements=requirements),
        plan=plan,
        plan_hash=plan.content_hash(),
    )

    syncer = DryRunSyncer(tmp_path / "runs", reason="test")
    await syncer.sync(run)

    folder = syncer.folder(run.run_id)
    written = (folder / "backlog.md").read_text() + (folder / "plan.json").read_text()
    for case in POSITIVES:
        assert case.shown_parts(written) == [], case.name
    assert "[redacted stripe-access-key]" in written
