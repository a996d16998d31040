"""Inter-process communication through queues (course notes, section 5: ipc机制).

Processes do not share memory, but they can pass data through a
``multiprocessing.Queue``: one process puts, another gets. Here a producer
process puts the items on one queue, a consumer process takes them and sends
them back to the caller on a second queue.

The pitfall (see "Joining processes that use queues" in the ``multiprocessing``
docs): a process that has put items on a queue does not exit until a
background thread has pushed all of them into the underlying pipe, and a pipe
holds only a few kilobytes. So joining a process *before* its items have been
taken out can deadlock: the parent waits for the child to exit, the child
waits for the parent to read. The fix is to drain the results first and join
afterwards.

The end of the stream is marked in-band, with a small protocol of tagged
tuples: ``("item", x)`` for each item, then ``("done", None)``. Unlike a
special sentinel value, it works whatever the items are (``None`` included).
"""

from collections.abc import Sequence


def transfer(items: Sequence[object]) -> list:
    """Send ``items`` through two processes and return them, in order.

    A producer process puts the items on a ``multiprocessing.Queue``; a
    consumer process takes them and puts them on a second queue, which the
    caller reads. The results are all read *before* the processes are joined,
    so large items (megabytes) and many items (tens of thousands) do not
    deadlock. Both processes are reaped before returning. Items must be
    picklable. Raises ``RuntimeError`` if a process dies or an item is lost on
    the way; the processes are then terminated and reaped too.
    """
    raise NotImplementedError("producer -> Queue -> consumer -> Queue -> you; drain, then join")
