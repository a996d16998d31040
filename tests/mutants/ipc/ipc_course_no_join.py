"""MUTANT: transfer() never joins its processes (the notes' `# p.join()`): they linger as zombies.

Inter-process communication through queues (course notes, section 5: ipc机制).

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

import multiprocessing
import queue
from collections.abc import Sequence

CAUGHT_BY = "test_transfer"

_ITEM = "item"
_DONE = "done"

# How often the caller, while waiting for results, checks that the children are alive.
_POLL_INTERVAL = 0.1


def _flush(q) -> None:
    """Wait until everything put on ``q`` by this process has been written to its pipe.

    A process would do this on exit anyway, but the queue's feeder thread gives
    up on the remaining items once the process is exiting if one of them cannot
    be pickled; flushing while still running makes it skip just that item.
    """
    q.close()
    q.join_thread()


def _produce(items: Sequence[object], channel) -> None:
    """Producer process: put every item on ``channel``, then the end mark."""
    for item in items:
        channel.put((_ITEM, item))
    channel.put((_DONE, None))
    _flush(channel)


def _consume(channel, results) -> None:
    """Consumer process: pass everything from ``channel`` on to ``results``, end mark included."""
    while True:
        kind, item = channel.get()
        results.put((kind, item))
        if kind == _DONE:
            _flush(results)
            return


def _collect(results, producer, consumer) -> list:
    """Take the items off ``results`` until the end mark; raise if a child died on the way."""
    received = []
    while True:
        # Looked at *before* waiting: a child that is already gone has
        # everything it ever sent in the pipe, so the get below still sees it.
        failed = not consumer.is_alive() or producer.exitcode not in (None, 0)
        try:
            kind, item = results.get(timeout=_POLL_INTERVAL)
        except queue.Empty:
            if failed:
                raise RuntimeError(
                    f"transfer failed: producer exit code {producer.exitcode}, "
                    f"consumer exit code {consumer.exitcode}"
                ) from None
            continue
        if kind == _DONE:
            return received
        received.append(item)


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
    channel = multiprocessing.Queue()
    results = multiprocessing.Queue()
    producer = multiprocessing.Process(target=_produce, args=(items, channel))
    consumer = multiprocessing.Process(target=_consume, args=(channel, results))
    producer.start()
    consumer.start()
    received = _collect(results, producer, consumer)
    # producer.join()
    # consumer.join()
    if len(received) != len(items):
        # A queue's feeder thread only prints an item it cannot pickle, and drops it.
        raise RuntimeError(f"transfer lost items: sent {len(items)}, received {len(received)}")
    return received
