import threading
import time

import counter
import pytest


def test_decrement_and_value():
    c = counter.SafeCounter(5, lambda: None)
    assert c.decrement() == 4
    assert c.value == 4


def test_latency_error_changes_nothing():
    def down():
        raise ConnectionError("down")

    c = counter.SafeCounter(5, down)
    with pytest.raises(ConnectionError):
        c.decrement()
    assert c.value == 5


def test_no_lost_decrements():
    c = counter.SafeCounter(50, lambda: time.sleep(0.0005))
    workers = [threading.Thread(target=c.decrement) for _ in range(50)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert c.value == 0


def test_drain_with_threads():
    assert counter.drain_with_threads(100, 100, lambda: time.sleep(0.0005)) == 0
