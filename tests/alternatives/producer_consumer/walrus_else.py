"""ALTERNATIVE: walrus loop on q.get() and try/except/else, task_done in each branch.

The consumer reads with ``while (item := q.get()) is not None`` and marks the stop
sign done after the loop; each item is marked done in the ``except`` branch (eat
failed) or in the ``else`` branch (eat succeeded) rather than in a ``finally``. The
producer builds its items with a generator, and the kitchen starts the consumers
before the producers.
"""

import multiprocessing
import traceback
from collections.abc import Callable, Mapping


def producer(name: str, food: str, count: int, q) -> None:
    """Put ``count`` items ``f"{name}:{food}:{i}"`` on ``q``, ``i`` from 0, in order."""
    for item in (f"{name}:{food}:{i}" for i in range(count)):
        q.put(item)


def consumer(name: str, q, eat: Callable[[str, str], None]) -> None:
    """Eat items from ``q`` until the stop sign ``None``; mark every item done once."""
    while (item := q.get()) is not None:
        try:
            eat(name, item)
        except Exception:
            q.task_done()
            traceback.print_exc()  # report it, then on with the next bun
        else:
            q.task_done()
    q.task_done()  # the stop sign


def kitchen(
    menu: Mapping[str, str], count: int, n_consumers: int, eat: Callable[[str, str], None]
) -> None:
    """Run producers and consumers on one JoinableQueue until every item is eaten once."""
    q = multiprocessing.JoinableQueue()
    diners = []
    cooks = []
    try:
        for i in range(n_consumers):
            p = multiprocessing.Process(target=consumer, args=(f"diner-{i}", q, eat),
                                        daemon=True)
            p.start()
            diners.append(p)
        for cook, food in menu.items():
            p = multiprocessing.Process(target=producer, args=(cook, food, count, q))
            p.start()
            cooks.append(p)
        for p in cooks:
            p.join()
        q.join()
        for _ in diners:
            q.put(None)
        for p in diners:
            p.join()
    finally:
        for p in diners + cooks:
            if p.is_alive():
                p.terminate()
            p.join()
