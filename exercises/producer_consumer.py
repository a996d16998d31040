"""Producers and consumers on a JoinableQueue (course notes, section 6: 生产者消费者模型).

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

from collections.abc import Callable, Mapping


def producer(name: str, food: str, count: int, q) -> None:
    """Put ``count`` items ``f"{name}:{food}:{i}"`` on ``q``, ``i`` from 0, in order."""
    raise NotImplementedError('q.put(f"{name}:{food}:{i}") for i in range(count)')


def consumer(name: str, q, eat: Callable[[str, str], None]) -> None:
    """Eat items from ``q`` until the stop sign.

    Forever: take an item with ``q.get()``. ``None`` is the stop sign: mark it
    done and return. Otherwise call ``eat(name, item)``. Every item taken, the
    stop sign included, is marked done with ``q.task_done()`` exactly once,
    after ``eat`` has finished, also when ``eat`` raises an ``Exception`` (the
    consumer then reports it on stderr and goes on with the next item).
    """
    raise NotImplementedError("q.get(); None -> task_done, return; else eat, task_done in finally")


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
    raise NotImplementedError(
        "start all; join producers; q.join(); one None per consumer; join them"
    )
