"""Daemon processes (course notes, section 2: 守护进程).

A daemon process "guards" the process that started it: when the main process
ends, its daemon children are terminated with it. In ``multiprocessing`` a
process is made a daemon by setting its ``daemon`` flag, which must happen
before ``start()``; setting it afterwards raises an error.
"""

from collections.abc import Callable
from multiprocessing import Process


def start_guardian(target: Callable[..., object], *args) -> Process:
    """Start ``target(*args)`` in a daemon process and return the started process.

    The returned object is a ``multiprocessing.Process`` whose ``daemon``
    flag was set before ``start()``. When the main process ends, the
    guardian ends with it. The caller may still ``join()`` it.
    """
    # daemon=True in the constructor sets the flag before start(), as required.
    process = Process(target=target, args=args, daemon=True)
    process.start()
    return process
