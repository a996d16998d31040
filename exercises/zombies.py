"""Zombie and orphan processes (course notes, section 1: 僵尸进程与孤儿进程).

A *zombie* is a child that has finished but has not been reaped yet: the
kernel keeps its exit status (and its pid) until the parent collects it with
``wait``/``waitpid``. ``multiprocessing.Process.join`` does that collection
for us, so a parent that joins every child leaves no zombies behind.

An *orphan* is a process whose parent died while it was still running. The
kernel hands it over to a new parent (``init``, or the nearest "subreaper"),
which then becomes responsible for reaping it. The classic way to create
one on purpose is the double fork: the child forks a grandchild and exits
at once, and the grandchild is re-parented.
"""

from collections.abc import Callable, Sequence


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
    raise NotImplementedError("start a Process per target, then join them all; read .exitcode")


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
    raise NotImplementedError(
        "os.pipe + os.fork twice; children leave only via os._exit; G writes a temp file, "
        "then os.replace; the caller reads G's pid and os.waitpid(C, 0)"
    )
