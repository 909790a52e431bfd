"""Runs inside the box as the parent of a check: `python -I -S reaper.py REPORT_FD -- ARGV...`.

It makes itself a child subreaper, so every process the check forks stays its descendant even after
a double fork or setsid. When the check exits, whatever is still running is a daemon that outlived
its check: the reaper names each one (pid and command line) on REPORT_FD, kills it and exits with
the check's own status (128+N when the check died of signal N, as bwrap and unshare report it).

Standard library only and nothing of PASS: it runs with `-I -S` from a read-only bind. The report
fd is closed for the check, so the check cannot forge or hide the report.
"""

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time

_PR_SET_CHILD_SUBREAPER = 36
_MAX_NAMED = 20


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def _descendants(root: int) -> list[int]:
    tree = _children()
    found: list[int] = []
    todo = list(tree.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()[:200]
    except OSError:
        return "?"


def _reap_zombies() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def main() -> int:
    report_fd = int(sys.argv[1])
    argv = sys.argv[3:]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    try:
        child = subprocess.Popen(argv, close_fds=True)
    except OSError as exc:
        print(f"{argv[0]}: {exc.strerror}", file=sys.stderr)
        return 127
    status = child.wait()
    left = _descendants(os.getpid())
    named = [f"pid {pid}: {_cmdline(pid)}" for pid in left[:_MAX_NAMED]]
    for _ in range(50):
        if not left:
            break
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
        _reap_zombies()
        left = _descendants(os.getpid())
    with os.fdopen(report_fd, "w") as report:
        for line in named:
            report.write(line.replace("\n", " ") + "\n")
    return 128 - status if status < 0 else status


if __name__ == "__main__":
    sys.exit(main())
