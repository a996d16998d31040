"""ALTERNATIVE: an RLock taken with acquire()/release() in try/finally; threads built in a list.

``decrement`` acquires the counter's ``threading.RLock`` explicitly and releases it in a
``finally`` block; the new value is computed after ``latency()`` returns and stored then.
``drain_with_threads`` builds the thread list first, then starts every thread, then joins
every thread (reaping the ones started even if starting a later one failed).
"""

import random
import threading
import time
from collections.abc import Callable


def network_latency() -> None:
    """Pretend to wait for the network: a few milliseconds."""
    time.sleep(random.choice((0.001, 0.002, 0.003, 0.004, 0.005)))


class SafeCounter:
    """A counter whose decrement() is one atomic read-latency-write step."""

    def __init__(self, value: int, latency: Callable[[], None] = network_latency) -> None:
        self.__count = value
        self.__latency = latency
        self.__mutex = threading.RLock()

    def decrement(self) -> int:
        """Read, call latency() once, write value - 1 and return it, all under the lock."""
        self.__mutex.acquire()
        try:
            before = self.__count
            self.__latency()
            after = before - 1
            self.__count = after
            return after
        finally:
            self.__mutex.release()

    @property
    def value(self) -> int:
        """The counter's current value."""
        self.__mutex.acquire()
        try:
            return self.__count
        finally:
            self.__mutex.release()


def drain_with_threads(
    start: int, n_threads: int, latency: Callable[[], None] = network_latency
) -> int:
    """Decrement one SafeCounter(start, latency) once from each of n_threads threads."""
    shared = SafeCounter(start, latency)
    workers = [threading.Thread(target=shared.decrement) for _ in range(n_threads)]
    started = []
    try:
        for w in workers:
            w.start()
            started.append(w)
    finally:
        for w in started:
            w.join()
    return shared.value
