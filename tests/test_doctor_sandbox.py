"""`passbot doctor` reports the sandbox level that really starts, not whether bwrap is on PATH.

Found by running the image under podman: bubblewrap was installed, but the runtime's masked /proc
kept it from starting, and the worker fell back to rlimits while doctor said "bubblewrap".
"""

from __future__ import annotations

from bot.doctor import sandbox_check
from bot.sandbox.isolation import IsolationLevel


def test_bubblewrap_that_starts_is_ok() -> None:
    check = sandbox_check(IsolationLevel.BWRAP, "/usr/bin/bwrap")
    assert check.ok and "no network, read-only root" in check.detail


def test_bubblewrap_installed_but_refused_says_so_and_how_to_allow_it() -> None:
    check = sandbox_check(IsolationLevel.RLIMITS, "/usr/bin/bwrap")
    assert not check.ok and not check.required
    assert check.detail.startswith("falling back to rlimits; bubblewrap (/usr/bin/bwrap) is installed but cannot")
    assert "--security-opt unmask=/proc/*" in check.detail


def test_no_bubblewrap_names_the_package() -> None:
    check = sandbox_check(IsolationLevel.UNSHARE, None)
    assert not check.ok
    assert check.detail == "falling back to unshare; install bubblewrap: apt-get install bubblewrap"
