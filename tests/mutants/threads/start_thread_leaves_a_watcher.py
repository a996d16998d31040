"""Broken: start_thread also starts a watcher thread that never ends, and leaves it behind.

Mutant of solutions/threads.py. Threads (course notes, sections 8 and 9).

Section 8 (开设线程的两种方式) starts a thread either by passing a function
to ``threading.Thread(target=...)`` or by subclassing ``Thread`` and
overriding ``run``. Section 9 (守护线程) shows daemon threads: the main
thread waits for every non-daemon thread before the process ends, but a
daemon thread never keeps the process alive; it is simply stopped when the
process exits.
"""

import threading
import time
from collections.abc import Callable

CAUGHT_BY = "test_start_thread"


def _watch(thread: threading.Thread) -> None:
    """Keeps an eye on `thread`, and never stops."""
    while True:  # BUG: runs forever, long after `thread` ended
        time.sleep(0.05)


def _start_watcher(thread: threading.Thread) -> None:
    threading.Thread(target=_watch, args=(thread,), name="watcher", daemon=True).start()


def start_thread(target: Callable[..., object], *args) -> threading.Thread:
    """Way one: run ``target(*args)`` in a new, started, non-daemon thread; return the thread.

    The thread is not a daemon even when this is called from a daemon thread
    (a new thread otherwise inherits its creator's daemon flag).
    """
    thread = threading.Thread(target=target, args=args, daemon=False)
    thread.start()
    _start_watcher(thread)  # BUG: a thread nobody ends
    return thread


class Worker(threading.Thread):
    """Way two: a ``Thread`` subclass that overrides ``run`` to call ``job()``.

    ``Worker(name, job)`` makes an unstarted thread with ``worker.name == name``.
    After ``start()`` and ``join()``, ``worker.result`` holds what ``job()``
    returned and ``worker.error`` is None; or, if ``job()`` raised,
    ``worker.error`` holds the exception and ``worker.result`` is None.
    """

    def __init__(self, name: str, job: Callable[[], object]) -> None:
        """Create the (unstarted) worker thread called ``name`` that will run ``job()``."""
        super().__init__(name=name)
        self.job = job
        self.result: object = None
        self.error: BaseException | None = None

    def run(self) -> None:
        """Call ``job()`` and keep its return value in ``result`` or its exception in ``error``."""
        try:
            self.result = self.job()
        except BaseException as e:  # noqa: BLE001 - the error is handed over, not lost
            # A thread has no caller to raise to: keep the exception for whoever joins us.
            self.error = e


def start_daemon(target: Callable[..., object], *args) -> threading.Thread:
    """Run ``target(*args)`` in a new, started daemon thread; return the thread.

    A daemon thread never keeps the process alive: the process may exit while
    it is still running.
    """
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread
