"""ALTERNATIVE: the threads' counter is a class attribute (Tally.n) under a module-level
threading.Lock, the threads run lambdas; processes share a Value("i", 0, lock=True), joined
by popping them off a list.

Data shared by threads, isolated between processes (course notes, sections 7, 10, 11).
"""
import threading
from multiprocessing import Process, Value

LOCK = threading.Lock()


class Tally:
    n = 0


def _bump(times):
    for _ in range(times):
        with LOCK:
            Tally.n += 1


def count_with_threads(n_threads, per_thread):
    Tally.n = 0
    threads = [threading.Thread(target=lambda: _bump(per_thread)) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Tally.n


def _add(v, k):
    for _ in range(k):
        with v.get_lock():
            v.value = v.value + 1


def count_with_processes(n_procs, per_proc):
    v = Value("i", 0, lock=True)
    procs = []
    for _ in range(n_procs):
        p = Process(target=_add, args=(v, per_proc))
        p.start()
        procs.append(p)
    while procs:
        procs.pop().join()
    return v.value
