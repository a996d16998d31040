"""Breaks: after join(), worker.result must hold what job() returned (run() drops it).

Mutant of solutions/threads.py: worker_drops_result.
Rule: threads.worker.result (docs/RULES.md).
"""

import threading
from collections.abc import Callable

CAUGHT_BY = "test_worker"


def start_thread(target: Callable[..., object], *args) -> threading.Thread:
    """Way one: run ``target(*args)`` in a new, started, non-daemon thread; return the thread.

    The thread is not a daemon even when this is called from a daemon thread
    (a new thread otherwise inherits its creator's daemon flag).
    """
    thread = threading.Thread(target=target, args=args, daemon=False)
    thread.start()
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
            self.job()  # BUG: the return value is dropped; result stays None
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
