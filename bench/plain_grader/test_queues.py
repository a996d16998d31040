import multiprocessing
import queue
import threading

import pytest
import queues

KINDS = [queue.Queue, multiprocessing.Queue, multiprocessing.JoinableQueue]


@pytest.mark.parametrize("make", KINDS)
def test_try_put(make):
    q = make(1)
    assert queues.try_put(q, "a") is True
    assert queues.try_put(q, "b") is False
    assert q.get(timeout=1) == "a"


@pytest.mark.parametrize("make", KINDS)
def test_drain(make):
    q = make()
    for i in range(5):
        q.put(i)
    assert queues.drain(q, 0.1) == [0, 1, 2, 3, 4]
    assert queues.drain(make(), 0.1) == []


def test_drain_waits_for_late_item():
    q = multiprocessing.Queue()
    threading.Timer(0.05, q.put, ["late"]).start()
    assert queues.drain(q, 0.3) == ["late"]
