"""ALTERNATIVE: processes built in a list comprehension and joined in reverse order; orphan()
wraps its pipe in os.fdopen files, writes the report via tempfile.NamedTemporaryFile(delete=False)
+ os.replace, and reaps C with os.waitpid in a loop that retries on EINTR.

Zombie and orphan processes (course notes, section 1), written as another student could.
"""

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from multiprocessing import Process


def run_children(targets: Sequence[Callable[[], object]]) -> list[int]:
    """Start one process per target (all of them first), reap them all, return exit codes.

    The codes come back in the order of ``targets`` whatever the order of reaping.
    """
    processes = [Process(target=target) for target in targets]
    started: list[Process] = []
    try:
        for process in processes:
            process.start()
            started.append(process)
    finally:
        # Reap from the last one started to the first: the order does not matter, each
        # join() waits for its child and collects its exit status.
        for process in reversed(started):
            process.join()
    return [process.exitcode for process in processes]


def _publish(report: str, text: str) -> None:
    """Write ``text`` to a temporary file next to ``report``, then rename it onto ``report``."""
    folder = os.path.dirname(os.path.abspath(report))
    with tempfile.NamedTemporaryFile("w", dir=folder, prefix=".report-", delete=False) as tmp:
        tmp.write(text)
    try:
        os.replace(tmp.name, report)
    except OSError:
        os.unlink(tmp.name)
        raise


def _be_grandchild(parent: int, report: str) -> int:
    """G: poll until C is no longer our parent (at most 5 s), then report. Exit code."""
    give_up = time.monotonic() + 5.0
    while True:
        if os.getppid() != parent:
            _publish(report, f"{os.getpid()} {os.getppid()}")
            return 0
        if time.monotonic() > give_up:
            return 1
        time.sleep(0.01)


def orphan(report: str) -> int:
    """Double fork: C forks G and exits at once; G is re-parented and reports; return G's pid."""
    reader, writer = os.pipe()
    c = os.fork()
    if c == 0:  # ----- C
        code = 1
        try:
            os.close(reader)
            me = os.getpid()
            g = os.fork()
            if g == 0:  # ----- G
                status = 2
                try:
                    os.close(writer)
                    status = _be_grandchild(me, report)
                finally:
                    os._exit(status)
            with os.fdopen(writer, "w") as pipe:
                pipe.write(f"{g}\n")
            code = 0
        finally:
            os._exit(code)

    # ----- the caller
    os.close(writer)
    try:
        with os.fdopen(reader) as pipe:
            text = pipe.read()  # until C has exited (G closed its copy at once)
    finally:
        while True:
            try:
                os.waitpid(c, 0)  # reap C
                break
            except InterruptedError:
                continue
    if not text.strip():
        raise OSError("C could not fork the grandchild")
    return int(text)
