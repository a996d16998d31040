"""ALTERNATIVE: a small counter class guarded by a threading.RLock, threads built in a list
comprehension; processes from multiprocessing.get_context() share a Value('i', 0) updated
under `with v.get_lock()`, joined in reverse order.

Data shared by threads, isolated between processes (course notes, sections 7, 10, 11).
"""

import multiprocessing
import threading


class _Tally:
    """A counter that several threads may bump at once."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._n = 0

    def bump(self) -> None:
        with self._lock:
            self._n = self._n + 1

    @property
    def total(self) -> int:
        with self._lock:
            return self._n


def _bump_many(tally: _Tally, times: int) -> None:
    for _ in range(times):
        tally.bump()


def count_with_threads(n_threads: int, per_thread: int) -> int:
    """Each of ``n_threads`` threads adds 1 ``per_thread`` times to one shared tally."""
    tally = _Tally()
    workers = [threading.Thread(target=_bump_many, args=(tally, per_thread))
               for _ in range(n_threads)]
    started = []
    try:
        for worker in workers:
            worker.start()
            started.append(worker)
    finally:
        for worker in started:
            worker.join()
    return tally.total


def _add(shared, times: int) -> None:
    for _ in range(times):
        with shared.get_lock():
            shared.value += 1


def count_with_processes(n_procs: int, per_proc: int) -> int:
    """Each of ``n_procs`` processes adds 1 ``per_proc`` times to one shared Value."""
    ctx = multiprocessing.get_context()
    shared = ctx.Value("i", 0)
    procs = []
    try:
        for _ in range(n_procs):
            proc = ctx.Process(target=_add, args=(shared, per_proc))
            proc.start()
            procs.append(proc)
    finally:
        for proc in reversed(procs):
            proc.join()
    bad = [proc.exitcode for proc in procs if proc.exitcode != 0]
    if bad:
        raise RuntimeError(f"counting processes failed with exit codes {bad}")
    return shared.value
