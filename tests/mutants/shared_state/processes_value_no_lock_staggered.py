"""Breaks: the Value must be updated under its lock (v.value += 1 without get_lock()); the
processes are started a little apart (0.15 s), so each had done its additions before the next
began, and none was lost: 6 of 6 points before the graders' start gate
(graders/_perturb.py), which makes them begin their additions together.

Mutant of solutions/shared_state.py: processes_value_no_lock_staggered.
"""

import threading
import time
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
        value.value += 1  # BUG: read and write are two steps; another process slips in


def count_with_processes(n_procs: int, per_proc: int) -> int:
    """Count with ``n_procs`` processes that share one counter; return the total.

    The counter is a ``multiprocessing.Value`` in shared memory (a plain
    variable would be copied into each process). Every process adds 1 to it
    ``per_proc`` times under the value's lock. All processes are started,
    then all joined (reaped). Returns ``n_procs * per_proc``; raises
    ``RuntimeError`` if a process did not exit cleanly.
    """
    value = Value("q", 0)  # a 64-bit signed integer in shared memory, with a lock
    processes = []
    try:
        for _ in range(n_procs):
            process = Process(target=_add_in_process, args=(value, per_proc))
            process.start()
            time.sleep(0.15)  # BUG as above; started apart, they never overlap
            processes.append(process)
    finally:
        for process in processes:
            process.join()
    failed = [process.exitcode for process in processes if process.exitcode != 0]
    for process in processes:
        process.close()
    if failed:
        raise RuntimeError(f"{len(failed)} counting process(es) failed, exit codes {failed}")
    return value.value
