"""ALTERNATIVE: threads configured through attributes (daemon set after construction, before
start()); Worker sets its name after Thread.__init__, keeps result/error as class-level
defaults overridden per instance, uses try/except/else in run() and drops the job afterwards.

Threads: two ways to start them, and daemon threads (course notes, sections 8 and 9).
"""

import threading
from collections.abc import Callable


def _started(target: Callable[..., object], args: tuple, daemon: bool) -> threading.Thread:
    thread = threading.Thread(target=target, args=args)
    thread.daemon = daemon  # explicit: otherwise it would be inherited from the creating thread
    thread.start()
    return thread


def start_thread(target: Callable[..., object], *args) -> threading.Thread:
    """Way one: a started, non-daemon thread running ``target(*args)``."""
    return _started(target, args, daemon=False)


class Worker(threading.Thread):
    """Way two: subclass Thread and override run(); after join(), result or error is set."""

    result: object = None
    error: BaseException | None = None

    def __init__(self, name: str, job: Callable[[], object]) -> None:
        super().__init__()
        self.name = name
        self._job = job

    def run(self) -> None:
        try:
            value = self._job()
        except BaseException as exc:  # noqa: BLE001 - kept for whoever joins the thread
            self.error = exc
        else:
            self.result = value
        finally:
            del self._job  # like Thread.run, do not keep the callable alive


def start_daemon(target: Callable[..., object], *args) -> threading.Thread:
    """A started daemon thread running ``target(*args)``: it never keeps the process alive."""
    return _started(target, args, daemon=True)
