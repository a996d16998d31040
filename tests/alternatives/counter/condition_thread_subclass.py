"""ALTERNATIVE: a threading.Condition as the mutex, a Thread subclass per decrement.

``SafeCounter`` guards its value with ``with self._cond:`` (a ``threading.Condition``,
whose default lock is an ``RLock``) and keeps the value in a one-element list.
``drain_with_threads`` uses a ``threading.Thread`` subclass overriding ``run``; it starts
them all with ``map`` and joins them all afterwards.
"""

import threading
import time
from collections.abc import Callable


def network_latency() -> None:
    """Default latency: sleep 2 ms."""
    time.sleep(0.002)


class SafeCounter:
    """Thread-safe counter; decrement() is atomic with respect to other decrements."""

    def __init__(self, value: int, latency: Callable[[], None] = network_latency) -> None:
        self._cell = [value]
        self._latency = latency
        self._cond = threading.Condition()

    def decrement(self) -> int:
        """Atomically: read, latency(), write value - 1; return the new value."""
        with self._cond:
            seen = self._cell[0]
            self._latency()
            self._cell[0] = seen - 1
            return self._cell[0]

    @property
    def value(self) -> int:
        """Current value (read under the counter's lock)."""
        with self._cond:
            return self._cell[0]


class _Decrementer(threading.Thread):
    def __init__(self, counter: SafeCounter) -> None:
        super().__init__()
        self.counter = counter

    def run(self) -> None:
        self.counter.decrement()


def drain_with_threads(
    start: int, n_threads: int, latency: Callable[[], None] = network_latency
) -> int:
    """n_threads threads, each taking one from a SafeCounter(start, latency); the final value."""
    counter = SafeCounter(start, latency)
    threads = [_Decrementer(counter) for _ in range(n_threads)]
    try:
        list(map(threading.Thread.start, threads))
    finally:
        for t in threads:
            if t.ident is not None:
                t.join()
    return counter.value
