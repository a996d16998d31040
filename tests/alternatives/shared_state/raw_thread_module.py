"""ALTERNATIVE: threads started with the low-level `_thread.start_new_thread`, which cannot be
joined: each thread counts under one `_thread.allocate_lock()` (what threading.Lock is) and
then adds itself to a list, which the caller polls with short sleeps until every thread has
finished; processes as in the reference.

Data shared by threads, isolated between processes (course notes, sections 7, 10, 11).
"""

import _thread
import time
from multiprocessing import Process, Value


def count_with_threads(n_threads: int, per_thread: int) -> int:
    """Count with ``n_threads`` threads that share one counter; return the total."""
    counter = [0]
    lock = _thread.allocate_lock()
    finished: list[int] = []

    def work() -> None:
        for _ in range(per_thread):
            with lock:
                counter[0] += 1
        with lock:
            finished.append(1)

    for _ in range(n_threads):
        _thread.start_new_thread(work, ())
    while True:
        with lock:
            if len(finished) == n_threads:
                return counter[0]
        time.sleep(0.001)


def _add_in_process(value, times: int) -> None:
    for _ in range(times):
        with value.get_lock():
            value.value += 1


def count_with_processes(n_procs: int, per_proc: int) -> int:
    """The same with processes and a multiprocessing.Value; returns ``n_procs * per_proc``."""
    value = Value("q", 0)
    processes = [Process(target=_add_in_process, args=(value, per_proc)) for _ in range(n_procs)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    if any(process.exitcode != 0 for process in processes):
        raise RuntimeError("a counting process failed")
    return value.value
