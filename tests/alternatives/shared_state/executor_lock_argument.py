"""ALTERNATIVE: threads from a concurrent.futures.ThreadPoolExecutor (a Barrier makes every
task run in its own thread), the lock and a one-cell dict passed as arguments; processes get a
separately created multiprocessing.RLock, made the Value's own lock (Value(..., lock=rlock))
and passed to them as an argument beside the Value.

Data shared by threads, isolated between processes (course notes, sections 7, 10, 11).
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import Process, RLock, Value


def _count(box: dict, lock, start_together: threading.Barrier, times: int) -> None:
    start_together.wait()  # all tasks run at once, so no pool thread takes two of them
    for _ in range(times):
        with lock:
            box["n"] += 1


def count_with_threads(n_threads: int, per_thread: int) -> int:
    """``n_threads`` pool threads each add 1 ``per_thread`` times under one shared Lock."""
    if n_threads <= 0:
        return 0
    box = {"n": 0}
    lock = threading.Lock()
    barrier = threading.Barrier(n_threads)
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        try:
            futures = [pool.submit(_count, box, lock, barrier, per_thread)
                       for _ in range(n_threads)]
        except BaseException:
            barrier.abort()  # release the tasks already waiting, then let the error out
            raise
        for future in futures:
            future.result()  # re-raises whatever a task raised
    return box["n"]


def _count_in_process(counter, lock, times: int) -> None:
    for _ in range(times):
        with lock:
            counter.value += 1


def count_with_processes(n_procs: int, per_proc: int) -> int:
    """``n_procs`` processes each add 1 ``per_proc`` times to a shared Value, under its lock."""
    # The Value's lock is this very lock. It must be recursive: reading and writing
    # counter.value take the Value's lock again while we already hold it.
    lock = RLock()
    counter = Value("q", 0, lock=lock)
    procs = [Process(target=_count_in_process, args=(counter, lock, per_proc))
             for _ in range(n_procs)]
    started = []
    try:
        for proc in procs:
            proc.start()
            started.append(proc)
    finally:
        for proc in started:
            proc.join()
    codes = [proc.exitcode for proc in procs]
    if any(code != 0 for code in codes):
        raise RuntimeError(f"a counting process failed: exit codes {codes}")
    return counter.value
