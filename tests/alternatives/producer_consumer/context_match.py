"""ALTERNATIVE: a context from get_context(), match-statement consumer, sentinel-based waits.

``kitchen`` takes its Process and JoinableQueue from ``multiprocessing.get_context()``,
passes the arguments as keywords, waits for the producers with
``multiprocessing.connection.wait`` on their sentinels (then joins them), and
after sending the stop signs calls ``q.join()`` a second time, so it knows every
consumer took its stop sign before joining them. The consumer dispatches on the
item with ``match``.
"""

import multiprocessing
import multiprocessing.connection
from collections.abc import Callable, Mapping


def producer(name: str, food: str, count: int, q) -> None:
    """Put ``count`` items ``f"{name}:{food}:{i}"`` on ``q``, ``i`` from 0, in order."""
    for item in map(f"{name}:{food}:{{}}".format, range(count)):
        q.put(item)


def consumer(name: str, q, eat: Callable[[str, str], None]) -> None:
    """Eat items from ``q`` until the stop sign ``None``; mark every item done once."""
    while True:
        item = q.get()
        match item:
            case None:
                q.task_done()
                break
            case _:
                try:
                    eat(name, item)
                except Exception as exc:  # a bad bun must not stop the diner
                    print(f"{name} skipped {item!r}: {type(exc).__name__}: {exc}")
                q.task_done()


def kitchen(
    menu: Mapping[str, str], count: int, n_consumers: int, eat: Callable[[str, str], None]
) -> None:
    """Run producers and consumers on one JoinableQueue until every item is eaten once."""
    ctx = multiprocessing.get_context()
    q = ctx.JoinableQueue()
    producers = [ctx.Process(target=producer,
                             kwargs={"name": who, "food": food, "count": count, "q": q})
                 for who, food in menu.items()]
    consumers = [ctx.Process(target=consumer,
                             kwargs={"name": f"consumer-{i}", "q": q, "eat": eat}, daemon=True)
                 for i in range(n_consumers)]
    everyone = producers + consumers
    try:
        for p in everyone:
            p.start()
        pending = {p.sentinel: p for p in producers}
        while pending:
            for ready in multiprocessing.connection.wait(list(pending)):
                pending.pop(ready).join()
        q.join()  # every item eaten
        for _ in consumers:
            q.put(None)
        q.join()  # every stop sign taken
        for p in consumers:
            p.join()
    finally:
        for p in everyone:
            if p.pid is None:
                continue  # never started
            if p.exitcode is None:
                p.kill()
            p.join()
