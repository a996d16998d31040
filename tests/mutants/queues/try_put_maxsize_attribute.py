"""MUTANT: try_put() reads q.maxsize, which only queue.Queue has: fails on multiprocessing queues.

Rule: queues.kinds (docs/RULES.md).

Message queues (course notes, section 4: 消息队列).

A queue is first in, first out. ``multiprocessing.Queue(maxsize)`` can be shared
between processes, ``queue.Queue`` between threads; both have the same
``put``/``get`` interface, including the non-blocking forms, which raise the
``queue.Full`` and ``queue.Empty`` exceptions of the ``queue`` module.

The seed asks ``q.full()`` and ``q.get_nowait()``. For a queue shared between
processes, ``full()``, ``empty()`` and ``qsize()`` are only snapshots that may
be stale by the time you act on them (and an item put by another process
shows up a moment after its ``put`` returned). So these helpers just try the
operation and handle the exception, and wait a little before deciding that a
queue is exhausted.
"""

import queue

CAUGHT_BY = "test_try_put"


def try_put(q, item) -> bool:
    """Put ``item`` on ``q`` without blocking; return True if it was put.

    Return False, dropping the item, when ``q`` is full. Works on
    ``queue.Queue``, ``multiprocessing.Queue`` and
    ``multiprocessing.JoinableQueue``.
    """
    # BUG: q.maxsize is public on queue.Queue only (a multiprocessing queue keeps it in
    # q._maxsize), so this raises AttributeError on multiprocessing queues
    if q.maxsize > 0 and q.qsize() >= q.maxsize:
        return False
    try:
        q.put(item, block=False)
    except queue.Full:  # multiprocessing queues raise queue.Full too
        return False
    return True


def drain(q, timeout: float = 0.1) -> list:
    """Take items off ``q`` in FIFO order until none arrives for ``timeout`` seconds.

    Return the items taken, in order (an empty list if none came). An item
    still in flight from another process (put, but not yet visible) is waited
    for up to ``timeout``, so ``q.empty()`` is not used as a stopping rule.
    Does not call ``task_done``. Works on ``queue.Queue``,
    ``multiprocessing.Queue`` and ``multiprocessing.JoinableQueue``.
    """
    items = []
    while True:
        try:
            items.append(q.get(timeout=timeout))
        except queue.Empty:
            return items
