"""ALTERNATIVE: drain_with_threads runs its decrements as tasks of a ThreadPoolExecutor with
one worker per decrement, a threading.Barrier making every task wait until all of them are in
their own thread (so all are started before any ends); SafeCounter guards read-latency-write
with a threading.Semaphore(1), taken and released by hand.

Thread mutex (course notes, section 11).
"""

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


def network_latency() -> None:
    """The default latency: sleep a random 1 to 5 milliseconds."""
    time.sleep(random.uniform(0.001, 0.005))


class SafeCounter:
    """A counter whose decrement (read, latency, write) is one atomic step."""

    def __init__(self, value: int, latency: Callable[[], None] = network_latency) -> None:
        self._value = value
        self._latency = latency
        self._mutex = threading.Semaphore(1)

    def decrement(self) -> int:
        """Read the value, call latency() once, write the value minus one; return it."""
        self._mutex.acquire()
        try:
            value = self._value
            self._latency()
            self._value = value - 1
            return self._value
        finally:
            self._mutex.release()

    @property
    def value(self) -> int:
        return self._value


def drain_with_threads(start: int, n_threads: int,
                       latency: Callable[[], None] = network_latency) -> int:
    """One decrement per pool thread, all in their threads before any ends; the final value."""
    counter = SafeCounter(start, latency)
    everyone_in = threading.Barrier(n_threads)

    def one() -> None:
        everyone_in.wait()
        counter.decrement()

    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        futures = [pool.submit(one) for _ in range(n_threads)]
    for future in futures:
        future.result()
    return counter.value
