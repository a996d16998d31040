"""Breaks: one thread per decrement (here the threads idle and the caller decrements).

Mutant of solutions/counter.py: counter_drain_idle_threads.
"""

import random
import threading
import time
from collections.abc import Callable

CAUGHT_BY = "test_hundred_threads"


def network_latency() -> None:
    """The default latency: sleep a few milliseconds (between 1 and 5 ms)."""
    time.sleep(random.uniform(0.001, 0.005))


class SafeCounter:
    """An integer counter whose ``decrement`` is atomic across threads.

    ``SafeCounter(value, latency=network_latency)`` starts at ``value``.
    ``decrement()`` reads the value, calls ``latency()`` exactly once, writes
    the value minus one and returns it, all while holding the counter's
    ``threading.Lock``, so concurrent decrements never lose an update. If
    ``latency()`` raises, the exception propagates, the value is unchanged
    and the counter stays usable (the lock is released). The ``value``
    property reads the current value.
    """

    def __init__(self, value: int, latency: Callable[[], None] = network_latency) -> None:
        """Create a counter holding ``value`` that calls ``latency()`` inside each decrement."""
        self._value = value
        self._latency = latency
        self._lock = threading.Lock()

    def decrement(self) -> int:
        """Atomically read the value, call ``latency()`` once, store value - 1; return it."""
        # The with-statement releases the lock on every path, also when latency() raises;
        # the value is only written after latency() returned, so a failure changes nothing.
        with self._lock:
            current = self._value
            self._latency()
            self._value = current - 1
            return self._value

    @property
    def value(self) -> int:
        """The current value."""
        with self._lock:  # never observe a decrement half-way
            return self._value


def drain_with_threads(
    start: int, n_threads: int, latency: Callable[[], None] = network_latency
) -> int:
    """The course's 100 threads: decrement a shared counter once per thread; return the result.

    Make a ``SafeCounter(start, latency)`` and ``n_threads`` threads that
    each call its ``decrement()`` once. All threads are started before any
    is joined, then all are joined. Returns the counter's final value
    (``start - n_threads`` when no ``latency()`` call raised).
    """
    counter = SafeCounter(start, latency)
    threads = []
    try:
        for _ in range(n_threads):
            thread = threading.Thread(target=_idle)  # BUG: the threads do none of the work
            thread.start()
            threads.append(thread)
    finally:
        for thread in threads:
            thread.join()
    for _ in range(n_threads):
        counter.decrement()
    return counter.value


def _idle() -> None:
    """A thread that is started and joined, and decrements nothing."""
