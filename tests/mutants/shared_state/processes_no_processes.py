"""Breaks: the processes must do the counting (here no process is started at all: the total is
returned as n_procs * per_proc).

Mutant of solutions/shared_state.py: processes_no_processes.
"""

import threading
from multiprocessing import Process, Value

CAUGHT_BY = "test_processes_count_exactly"


def _add_in_thread(counter: list[int], lock: threading.Lock, times: int) -> None:
    """Add 1 to ``counter[0]`` ``times`` times, each time under ``lock``."""
    for _ in range(times):
        with lock:
            counter[0] += 1  # read, add, write: must not be interleaved with another thread


def count_with_threads(n_threads: int, per_thread: int) -> int:
    """Count with ``n_threads`` threads that share one counter; return the total.

    Every thread adds 1 to the shared counter ``per_thread`` times, each
    addition under one shared ``threading.Lock``, so no update is lost
    whatever the thread schedule. All threads are started, then all joined.
    Returns ``n_threads * per_thread``.
    """
    counter = [0]  # one shared cell: every thread sees the same list
    lock = threading.Lock()
    threads = []
    try:
        for _ in range(n_threads):
            thread = threading.Thread(target=_add_in_thread, args=(counter, lock, per_thread))
            thread.start()
            threads.append(thread)
    finally:
        for thread in threads:
            thread.join()
    return counter[0]


def _add_in_process(value, times: int) -> None:
    """Add 1 to the shared ``value`` ``times`` times, each time under its own lock.

    A module-level function, so it can be pickled under every start method.
    """
    for _ in range(times):
        with value.get_lock():
            value.value += 1


def count_with_processes(n_procs: int, per_proc: int) -> int:
    """Count with ``n_procs`` processes that share one counter; return the total.

    The counter is a ``multiprocessing.Value`` in shared memory (a plain
    variable would be copied into each process). Every process adds 1 to it
    ``per_proc`` times under the value's lock. All processes are started,
    then all joined (reaped). Returns ``n_procs * per_proc``; raises
    ``RuntimeError`` if a process did not exit cleanly.
    """
    return n_procs * per_proc  # BUG: no process, no shared Value
