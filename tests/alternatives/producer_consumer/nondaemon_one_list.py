"""ALTERNATIVE: non-daemon consumers reading with iter(q.get, None), all processes in one list.

The consumer loops ``for item in iter(q.get, None)`` and marks the stop sign done
once the loop ends; ``task_done`` is called in a ``finally``. The kitchen keeps
every process in a single list (producers first), does not make the consumers
daemon, puts the stop signs with a ``range(n_consumers)`` loop and joins the whole
list at the end.
"""

import multiprocessing
import sys
from collections.abc import Callable, Mapping


def producer(name: str, food: str, count: int, q) -> None:
    """Put ``count`` items ``f"{name}:{food}:{i}"`` on ``q``, ``i`` from 0, in order."""
    i = 0
    while i < count:
        q.put(f"{name}:{food}:{i}")
        i += 1


def consumer(name: str, q, eat: Callable[[str, str], None]) -> None:
    """Eat items from ``q`` until the stop sign ``None``; mark every item done once."""
    for item in iter(q.get, None):
        try:
            eat(name, item)
        except Exception as exc:
            sys.stderr.write(f"[{name}] could not eat {item!r}: {exc!r}\n")
        finally:
            q.task_done()
    q.task_done()  # for the None that ended the loop


def kitchen(
    menu: Mapping[str, str], count: int, n_consumers: int, eat: Callable[[str, str], None]
) -> None:
    """Run producers and consumers on one JoinableQueue until every item is eaten once."""
    q = multiprocessing.JoinableQueue()
    n_producers = len(menu)
    procs = [multiprocessing.Process(target=producer, args=(who, food, count, q))
             for who, food in menu.items()]
    procs += [multiprocessing.Process(target=consumer, args=(f"c{i}", q, eat))
              for i in range(n_consumers)]
    ok = False
    try:
        for p in procs:
            p.start()
        for p in procs[:n_producers]:
            p.join()
        q.join()
        for _ in range(n_consumers):
            q.put(None)
        ok = True
    finally:
        for p in procs:
            if not ok and p.pid is not None:
                p.terminate()  # something failed: the consumers would wait forever
            if p.pid is not None:
                p.join()
