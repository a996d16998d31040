"""Broken: start_guardian runs the target in a daemon thread, not in a daemon process.

Mutant of solutions/daemons.py. Daemon processes (course notes, section 2).

A daemon process "guards" the process that started it: when the main process
ends, its daemon children are terminated with it. In ``multiprocessing`` a
process is made a daemon by setting its ``daemon`` flag, which must happen
before ``start()``; setting it afterwards raises an error.
"""

import threading
from collections.abc import Callable

CAUGHT_BY = "test_start_guardian"


def start_guardian(target: Callable[..., object], *args) -> threading.Thread:
    """Start ``target(*args)`` in a daemon process and return the started process.

    The returned object is a ``multiprocessing.Process`` whose ``daemon``
    flag was set before ``start()``. When the main process ends, the
    guardian ends with it. The caller may still ``join()`` it.
    """
    thread = threading.Thread(target=target, args=args, daemon=True)  # BUG: a thread
    thread.start()
    return thread
