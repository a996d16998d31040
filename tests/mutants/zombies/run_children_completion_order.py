"""Breaks: run_children must return the exit codes in the order of targets (not of ending).

Mutant of solutions/zombies.py: run_children_completion_order.
Rule: zombies.run_children.exit-codes (docs/RULES.md).
"""

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from multiprocessing import Process
from multiprocessing.connection import wait
from typing import NoReturn

CAUGHT_BY = "test_run_children"

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
    for target in targets:
        process = Process(target=target)
        process.start()
        processes.append(process)
    exit_codes = []
    pending = {process.sentinel: process for process in processes}
    while pending:  # BUG: collects the codes as the children end, not in target order
        for sentinel in wait(list(pending)):
            process = pending.pop(sentinel)
            process.join()  # reaped: no zombie, but its code goes where it ended
            exit_codes.append(process.exitcode)
    for process in processes:
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
    """Create an orphan process with a double fork; return the orphan's pid.

    POSIX only: it needs ``os.fork``.

    Fork a child C. C forks a grandchild G and exits at once, without waiting
    for G, so G becomes an orphan. G polls (about every 10 ms, for at most
    5 s) until its parent is no longer C, then writes
    ``"<G's pid> <G's new parent pid>"`` to the file ``report`` atomically
    (complete or not at all) and exits with status 0; if it is not
    re-parented in time it writes nothing and exits with status 1. G never
    returns into the caller's code.

    The caller reaps C (so C leaves no zombie) and returns G's pid, which C
    sends it through a pipe. G is not the caller's child: whoever G is
    re-parented to reaps it. Raises ``OSError`` if C fails to fork G.
    """
    read_end, write_end = os.pipe()  # C -> caller: G's pid, as text
    child_pid = os.fork()
    if child_pid == 0:
        _in_child(report, read_end, write_end)  # never returns

    # --- In the caller.
    os.close(write_end)
    try:
        data = b""
        while chunk := os.read(read_end, 64):  # until C exits and closes its end
            data += chunk
    finally:
        os.close(read_end)
        os.waitpid(child_pid, 0)  # reap C: no zombie
    if not data:
        raise OSError("the child process could not fork the grandchild")
    return int(data)
