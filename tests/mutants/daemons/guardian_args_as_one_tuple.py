"""Breaks: the guardian must run target(*args) (it passes the args as one tuple argument).

Mutant of solutions/daemons.py: guardian_args_as_one_tuple.
Rule: daemons.start_guardian.runs-target (docs/RULES.md).
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
    # daemon=True in the constructor sets the flag before start(), as required.
    process = Process(target=target, args=(args,), daemon=True)  # BUG: target(args)
    process.start()
    return process
