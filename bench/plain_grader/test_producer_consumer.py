import functools
import multiprocessing
import os
import queue
from collections import Counter

import producer_consumer as pc


def test_producer():
    q = queue.Queue()
    pc.producer("jason", "bun", 3, q)
    assert [q.get_nowait() for _ in range(3)] == ["jason:bun:0", "jason:bun:1", "jason:bun:2"]
    assert q.empty()


def test_consumer_marks_every_item_done():
    q = queue.Queue()
    for item in ["a:b:0", "a:b:1", "a:b:2", None]:
        q.put(item)
    eaten = []

    def eat(name, item):
        eaten.append(item)
        if item == "a:b:1":
            raise ValueError("a bad bun")

    pc.consumer("diner", q, eat)
    assert eaten == ["a:b:0", "a:b:1", "a:b:2"]
    assert q.unfinished_tasks == 0


def record(folder, name, item):
    with open(os.path.join(folder, f"{os.getpid()}.txt"), "a") as f:
        f.write(item + "\n")


def test_kitchen_eats_everything_once(tmp_path):
    pc.kitchen({"jason": "bun", "ahsan": "naan"}, 5, 2, functools.partial(record, str(tmp_path)))
    eaten = Counter(line for p in tmp_path.iterdir() for line in p.read_text().split())
    assert eaten == Counter(f"{who}:{food}:{i}" for who, food in [("jason", "bun"),
                                                                  ("ahsan", "naan")]
                            for i in range(5))
    assert multiprocessing.active_children() == []
