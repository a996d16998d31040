"""ALTERNATIVE: lock.acquire()/release() in try/finally, pathlib + json.loads, NamedTemporaryFile.

The database is read with ``json.loads(Path(db).read_text())`` and written through a
``tempfile.NamedTemporaryFile(delete=False)`` in the same folder, then ``os.replace``.
``sell`` builds its processes from ``multiprocessing.get_context()`` (no argument: the
default start method) and collects who got a ticket in a shared ``Array`` (one slot per
buyer, written only by that buyer; a process that dies leaves its slot at 0, so False).
"""

import json
import multiprocessing
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def network_latency() -> None:
    """The booking system's round trip: sleep 1 to 5 ms."""
    time.sleep(random.randint(1, 5) / 1000)


def _read_db(db: str) -> dict:
    """Return the database's JSON object after checking ``ticket_num``; raise if it is bad."""
    data = json.loads(Path(db).read_text(encoding="utf-8"))
    if type(data) is not dict:
        raise TypeError(f"{db} does not hold a JSON object")
    if "ticket_num" not in data:
        raise KeyError(f"{db} has no ticket_num")
    num = data["ticket_num"]
    if type(num) is not int:  # excludes bool and float
        raise TypeError(f"ticket_num in {db} is not an integer: {num!r}")
    if num < 0:
        raise ValueError(f"ticket_num in {db} is negative: {num}")
    return data


def _write_db(db: str, data: dict) -> None:
    """Write ``data`` to a temporary file next to the database, then replace it atomically."""
    target = Path(db).resolve()
    tmp = tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=target.parent, suffix=".part", delete=False
    )
    try:
        with tmp:
            json.dump(data, tmp)
        shutil.copymode(target, tmp.name)
        os.replace(tmp.name, target)
    except BaseException:
        Path(tmp.name).unlink(missing_ok=True)
        raise


def find(name: str, db: str) -> int:
    """Return how many tickets are left (no lock taken)."""
    return _read_db(db)["ticket_num"]


def buy(name: str, db: str, lock, latency: Callable[[], None] = network_latency) -> bool:
    """Holding ``lock``: read, call ``latency()`` once, write ticket_num - 1; True if bought."""
    lock.acquire()
    try:
        data = _read_db(db)
        latency()
        if data["ticket_num"] <= 0:
            return False
        data["ticket_num"] -= 1
        _write_db(db, data)
        return True
    finally:
        lock.release()


def _buyer(slot: int, name: str, db: str, lock, latency, got) -> None:
    find(name, db)
    if buy(name, db, lock, latency):
        got[slot] = 1


def sell(
    names: Sequence[str], db: str, latency: Callable[[], None] = network_latency
) -> dict[str, bool]:
    """One process per name (find, then buy with one shared lock); return who got a ticket."""
    ctx = multiprocessing.get_context()
    lock = ctx.Lock()
    got = ctx.Array("b", len(names), lock=False)
    procs = [
        ctx.Process(target=_buyer, args=(i, name, db, lock, latency, got))
        for i, name in enumerate(names)
    ]
    started = []
    try:
        for p in procs:
            p.start()
            started.append(p)
    finally:
        for p in started:
            p.join()
    return {name: got[i] == 1 for i, name in enumerate(names)}
