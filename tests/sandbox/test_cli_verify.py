"""`passbot verify` as a user runs it, on the sample repo with one lint, type and test failure."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import REPO_ROOT, clean_env, passbot, stop_embedded_server

SAMPLE = REPO_ROOT / "tests" / "fixtures" / "sandbox" / "sample_repo"


def test_verify_names_exactly_the_three_problems_and_exits_3(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = clean_env(data)
    try:
        result = passbot("verify", str(SAMPLE), "--json", env=env, timeout=120)
        text = passbot("verify", str(SAMPLE), env=env, timeout=120)
    finally:
        stop_embedded_server(data)
    assert result.returncode == 3, result.stderr.decode()
    report = json.loads(result.stdout)
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    assert sorted(f["check"] for f in errors) == ["mypy", "pytest", "ruff"]
    out = text.stdout.decode()
    assert "src/sample/calc.py:1" in out and "F401" in out and "Likely cause" in out
    # The isolation the checks ran at, and each check's outcome, before the diagnosis.
    assert f"{SAMPLE}: sandbox {report['isolation']} (" in out
    assert "Checks:" in out and "✗ ruff" in out and "✗ mypy" in out and "✗ pytest" in out
