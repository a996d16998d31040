"""ALTERNATIVE: the process comes from multiprocessing.get_context() (called at each call, with
no argument), and the daemon flag is set as an attribute after construction, before start().

Daemon processes (course notes, section 2), written as another student could.
"""

import multiprocessing
from collections.abc import Callable
from multiprocessing.process import BaseProcess


def start_guardian(target: Callable[..., object], *args) -> BaseProcess:
    """Start ``target(*args)`` in a daemon process of the default context; return it started."""
    ctx = multiprocessing.get_context()
    guardian = ctx.Process(target=target, args=tuple(args))
    guardian.daemon = True  # must happen before start(): it cannot be changed afterwards
    guardian.start()
    return guardian
