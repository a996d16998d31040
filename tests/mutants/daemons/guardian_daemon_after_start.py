"""Broken: start_guardian sets daemon after start(), which multiprocessing refuses.

Mutant of solutions/daemons.py. Daemon processes (course notes, section 2).

A daemon process "guards" the process that started it: when the main process
ends, its daemon children are terminated with it. In ``multiprocessing`` a
process is made a daemon by setting its ``daemon`` flag, which must happen
before ``start()``; setting it afterwards raises an error.
"""

from collections.abc import Callable
from multiprocessing import Process

CAUGHT_BY = "test_start_guardian"


def start_guardian(target: Callable[..., object], *args) -> Process:
    """Start ``target(*args)`` in a daemon process and return the started process.

    The returned object is a ``multiprocessing.Process`` whose ``daemon``
    flag was set before ``start()``. When the main process ends, the
    guardian ends with it. The caller may still ``join()`` it.
    """
    process = Process(target=target, args=args)
    process.start()
    process.daemon = True  # BUG: too late: "process has already started"
    return process
