"""ALTERNATIVE: a @contextmanager lock helper, read-wait-write in a helper, results via a Queue.

``buy`` holds the lock through a generator-based context manager (acquire, yield, release
in ``finally``) and delegates the read / ``latency()`` / write round to ``_book``. The
database is written with ``tempfile.mkstemp`` + ``os.fdopen`` and ``os.replace``. ``sell``
has every buyer put ``(name, got)`` on one ``multiprocessing.Queue`` and drains that queue
while it waits for the processes' sentinels (so no child blocks on a full pipe), joining
each as it ends; a buyer that never reported counts as False.
"""

import contextlib
import json
import multiprocessing
import os
import queue
import random
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import wait


def network_latency() -> None:
    """Sleep a random few milliseconds, like a network round trip."""
    time.sleep(0.001 + random.random() * 0.004)


@contextlib.contextmanager
def _holding(lock) -> Iterator[None]:
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _tickets_in(data) -> int:
    if not isinstance(data, dict):
        raise ValueError("the ticket database must be a JSON object")
    if "ticket_num" not in data:
        raise ValueError("the ticket database has no ticket_num")
    num = data["ticket_num"]
    if isinstance(num, bool) or not isinstance(num, int):
        raise ValueError(f"ticket_num must be an integer, not {num!r}")
    if num < 0:
        raise ValueError(f"ticket_num cannot be negative ({num})")
    return num


def _load(db: str) -> dict:
    with open(db, encoding="utf-8") as f:
        text = f.read()
    data = json.loads(text)
    _tickets_in(data)
    return data


def _replace(db: str, data: dict) -> None:
    real = os.path.realpath(db)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(real), suffix=".json.tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(data))
        os.chmod(tmp, os.stat(real).st_mode & 0o7777)
        os.replace(tmp, real)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _book(db: str, latency: Callable[[], None]) -> bool:
    """One booking round (the caller holds the lock): read, wait, maybe write."""
    data = _load(db)
    latency()
    left = data["ticket_num"]
    if left < 1:
        return False
    data["ticket_num"] = left - 1
    _replace(db, data)
    return True


def find(name: str, db: str) -> int:
    """How many tickets are left. Takes no lock."""
    return _load(db)["ticket_num"]


def buy(name: str, db: str, lock, latency: Callable[[], None] = network_latency) -> bool:
    """Buy one ticket while holding ``lock``; False when sold out."""
    with _holding(lock):
        return _book(db, latency)


def _customer(name: str, db: str, lock, latency, answers) -> None:
    find(name, db)
    answers.put((name, buy(name, db, lock, latency)))


def _collect(answers, into: dict) -> None:
    while True:
        try:
            name, got = answers.get_nowait()
        except queue.Empty:
            return
        into[name] = got is True


def sell(
    names: Sequence[str], db: str, latency: Callable[[], None] = network_latency
) -> dict[str, bool]:
    """One process per buyer name, one shared lock; return {name: got a ticket}."""
    lock = multiprocessing.Lock()
    answers = multiprocessing.Queue()
    running = {}
    got: dict[str, bool] = {}
    try:
        for name in names:
            p = multiprocessing.Process(target=_customer, args=(name, db, lock, latency, answers))
            p.start()
            running[p.sentinel] = p
    finally:
        while running:
            for sentinel in wait(list(running), timeout=0.05):
                running.pop(sentinel).join()
            _collect(answers, got)
        _collect(answers, got)
        answers.close()
        answers.join_thread()
    return {name: got.get(name, False) for name in names}
