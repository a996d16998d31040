"""Breaks: the guardian must end with the main process (it ignores the SIGTERM that ends it).

Mutant of solutions/daemons.py: guardian_ignores_sigterm.
Rule: daemons.guardian.ends-with-main (docs/RULES.md).
"""

import signal
from collections.abc import Callable
from multiprocessing import Process

CAUGHT_BY = "test_guardian_ends_with_main"


def _shielded(target: Callable[..., object], *args) -> None:
    """Run target(*args) in a guardian that "must not be interrupted"."""
    # BUG: multiprocessing ends daemon children at exit with SIGTERM (terminate());
    # ignoring it keeps the guardian alive and the main process waits for it.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    target(*args)


def start_guardian(target: Callable[..., object], *args) -> Process:
    """Start ``target(*args)`` in a daemon process and return the started process.

    The returned object is a ``multiprocessing.Process`` whose ``daemon``
    flag was set before ``start()``. When the main process ends, the
    guardian ends with it. The caller may still ``join()`` it.
    """
    # daemon=True in the constructor sets the flag before start(), as required.
    process = Process(target=_shielded, args=(target, *args), daemon=True)
    process.start()
    return process
