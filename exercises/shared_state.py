"""Data shared by threads, isolated between processes (course notes, sections 7, 10, 11).

Threads of one process share its memory (section 10, 线程数据共享): a global
changed in a thread is changed for everyone. But a read-modify-write such as
``counter += 1`` is not atomic, so concurrent updates must be serialised with
a lock (section 11, 线程互斥锁) or some of them get lost.

Processes do not share memory (section 7: 进程间数据默认是隔离的): each
child changes its own copy. To count across processes the counter must live
in shared memory, such as a ``multiprocessing.Value``, and be updated under
its lock.
"""


def count_with_threads(n_threads: int, per_thread: int) -> int:
    """Count with ``n_threads`` threads that share one counter; return the total.

    Every thread adds 1 to the shared counter ``per_thread`` times, each
    addition under one shared ``threading.Lock``, so no update is lost
    whatever the thread schedule. All threads are started, then all joined.
    Returns ``n_threads * per_thread``.
    """
    raise NotImplementedError("one shared counter and one threading.Lock; each += 1 under it")


def count_with_processes(n_procs: int, per_proc: int) -> int:
    """Count with ``n_procs`` processes that share one counter; return the total.

    The counter is a ``multiprocessing.Value`` in shared memory (a plain
    variable would be copied into each process). Every process adds 1 to it
    ``per_proc`` times under the value's lock. All processes are started,
    then all joined (reaped). Returns ``n_procs * per_proc``; raises
    ``RuntimeError`` if a process did not exit cleanly.
    """
    raise NotImplementedError(
        "multiprocessing.Value passed to a module-level target; `with v.get_lock(): v.value += 1`"
    )
