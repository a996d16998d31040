"""Breaks: orphan must fork a child C that forks G (a double fork); it forks G itself.

Mutant of solutions/zombies.py: orphan_single_fork.
Rule: zombies.orphan.double-fork (docs/RULES.md).
"""

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from multiprocessing import Process
from typing import NoReturn

CAUGHT_BY = "test_orphan"

# How long the grandchild in ``orphan`` waits to be re-parented, and how often it looks.
_REPARENT_TIMEOUT = 5.0
_POLL_INTERVAL = 0.01


def run_children(targets: Sequence[Callable[[], object]]) -> list[int]:
    """Run every target in its own process and reap them all.

    Start one ``multiprocessing.Process`` per target, every one of them
    before waiting for any, then join (reap) each one. Return their exit
    codes in the order of ``targets``: 0 for a normal return, 1 for an
    uncaught exception, N for ``sys.exit(N)`` or ``os._exit(N)``, -S when the
    child was killed by signal S.

    When this function returns (or raises), no child it started is left
    running or as a zombie.
    """
    processes: list[Process] = []
    try:
        # Start them all first, so the children really run concurrently.
        for target in targets:
            process = Process(target=target)
            process.start()
            processes.append(process)
    finally:
        # join() waits for the child and reaps it: no zombie is left behind.
        # This also runs when a start() failed, so the children already
        # started are reaped before the error propagates.
        for process in processes:
            process.join()
    exit_codes = []
    for process in processes:
        exit_codes.append(process.exitcode)
        process.close()  # release the process's resources (its sentinel fd)
    return exit_codes


def _write_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see all of it or nothing."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp_path = tempfile.mkstemp(dir=folder, prefix=".orphan-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp_path, path)  # atomic on POSIX: same directory, same file system
    except BaseException:
        os.unlink(tmp_path)
        raise


def _grandchild(child_pid: int, report: str) -> int:
    """Body of the grandchild G: wait to be re-parented, then report. Returns an exit code."""
    deadline = time.monotonic() + _REPARENT_TIMEOUT
    while os.getppid() == child_pid:
        if time.monotonic() >= deadline:
            return 1  # never re-parented: write nothing
        time.sleep(_POLL_INTERVAL)
    _write_atomically(report, f"{os.getpid()} {os.getppid()}")
    return 0


def _in_grandchild(child_pid: int, report: str, write_end: int) -> NoReturn:
    """G: report once re-parented, and leave through os._exit, never into the caller's code."""
    exit_code = 2  # if anything below fails
    try:
        os.close(write_end)  # else the caller would wait for G to close it
        exit_code = _grandchild(child_pid, report)
    finally:
        os._exit(exit_code)


def _in_child(report: str, read_end: int, write_end: int) -> NoReturn:
    """C: fork G, send the caller G's pid, exit at once without waiting for G (G is orphaned).
    Whatever happens, C leaves through os._exit, never back into the caller's code."""
    exit_code = 1
    try:
        os.close(read_end)
        my_pid = os.getpid()  # G needs it: G's parent may be gone before G can ask
        grandchild_pid = os.fork()
        if grandchild_pid == 0:
            _in_grandchild(my_pid, report, write_end)
        os.write(write_end, str(grandchild_pid).encode("ascii"))
        exit_code = 0
    finally:
        os._exit(exit_code)


def orphan(report: str) -> int:
    """Create an orphan process; return the orphan's pid.

    Forks G directly and lets it report at once. G is the caller's own child and is never
    orphaned: there is no C to exit.
    """
    g = os.fork()  # BUG: one fork, no C: G stays the caller's child, never an orphan
    if g == 0:
        exit_code = 2
        try:
            exit_code = _grandchild(-1, report)  # its parent is "no longer C" from the start
        finally:
            os._exit(exit_code)
    return g
