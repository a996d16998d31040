"""ALTERNATIVE: put_nowait with try/except/else, and the drain loop inside one try.

``try_put`` calls ``q.put_nowait`` and returns from the ``else`` branch;
``drain`` wraps the whole ``while True`` loop of blocking ``get(True, timeout)``
calls in a single ``try`` whose ``except queue.Empty`` ends it, instead of
catching the exception on every iteration.
"""

import queue


def try_put(q, item) -> bool:
    """Put ``item`` on ``q`` without blocking; True if put, False (dropped) when full."""
    try:
        q.put_nowait(item)
    except queue.Full:
        return False
    else:
        return True


def drain(q, timeout: float = 0.1) -> list:
    """Take items off ``q`` in FIFO order until none arrives for ``timeout`` seconds."""
    taken: list = []
    try:
        while True:
            taken.append(q.get(True, timeout))
    except queue.Empty:
        pass  # nothing came for `timeout` seconds: the queue is exhausted
    return taken
