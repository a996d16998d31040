"""ALTERNATIVE: every thread appends one mark per addition to one shared list, under one
threading.Lock passed to it, and the count is the list's length (a correct count that writes
through a method call, not a store); processes add to a Value through its lock, started and
joined in comprehensions.

Data shared by threads, isolated between processes (course notes, sections 7, 10, 11).
"""
import threading
from multiprocessing import Process, Value


def _mark(marks, lock, times):
    for _ in range(times):
        with lock:
            marks.append(1)


def count_with_threads(n_threads, per_thread):
    marks, lock = [], threading.Lock()
    threads = [threading.Thread(target=_mark, args=(marks, lock, per_thread))
               for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(marks)


def _add(v, k):
    for _ in range(k):
        with v.get_lock():
            v.value += 1


def count_with_processes(n_procs, per_proc):
    v = Value("q", 0)
    procs = [Process(target=_add, args=(v, per_proc)) for _ in range(n_procs)]
    [p.start() for p in procs]
    [p.join() for p in procs]
    return v.value
