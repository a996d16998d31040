"""MUTANT: buy() holds the lock only around latency(): it reads before taking it and writes after.

The ticket office: a mutex lock between processes (course notes, section 3: 互斥锁).

Several buyer processes read and rewrite one JSON "database" of tickets. Each
buyer reads the number of tickets left, waits for the booking system (a network
round trip), then writes back one ticket fewer. Without a lock, every buyer can
read the same number before any of them writes, and the same ticket is sold
many times. A ``multiprocessing.Lock`` held around the whole read-wait-write
step turns the concurrent buyers into a queue: slower, but correct.

Two details the seed leaves out matter in real code:

- the lock must be created by the parent and handed to every child (a module
  global is re-created, unshared, in each child under the ``spawn`` start method);
- the file is written atomically (a temporary file, then ``os.replace``), so a
  reader that takes no lock, like ``find``, never sees a half-written file.
"""

CAUGHT_BY = "test_no_ticket_sold_twice"

import contextlib
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence

# Exit codes a buyer process (``_run``) uses to tell ``sell`` how it went.
# Any other exit code (1 for an uncaught exception, -S for a signal) means failure.
_GOT_TICKET = 0
_SOLD_OUT = 3


def network_latency() -> None:
    """Simulate the booking system's round trip: sleep a random 1 to 5 milliseconds."""
    time.sleep(random.uniform(0.001, 0.005))


def _load(db: str) -> tuple[dict, int]:
    """Read and validate the database; return its content and ``ticket_num``.

    Raises (``OSError``, ``ValueError``) when the file is missing, is not JSON,
    is not a JSON object, or its ``ticket_num`` is missing or not a
    non-negative integer.
    """
    with open(db, encoding="utf-8") as f:
        data = json.load(f)  # json.JSONDecodeError is a ValueError
    if not isinstance(data, dict):
        raise ValueError(f"{db}: the database must hold a JSON object")
    tickets = data.get("ticket_num")
    # bool is a subclass of int, but true/false is not a number of tickets.
    if isinstance(tickets, bool) or not isinstance(tickets, int) or tickets < 0:
        raise ValueError(f"{db}: ticket_num must be a non-negative integer, got {tickets!r}")
    return data, tickets


def _save(db: str, data: dict) -> None:
    """Replace the database with ``data`` atomically.

    The JSON is written to a temporary file in the same directory (``os.replace``
    is only atomic within one file system), then renamed over the database. A
    reader sees either the old file or the new one, never a mix. (An fsync before
    the rename would also survive a power cut; concurrent readers don't need it.)
    """
    path = os.path.realpath(db)  # if db is a symlink, replace the file it points to
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tickets-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.chmod(tmp, os.stat(path).st_mode & 0o7777)  # mkstemp creates it 0600
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # do not leave the temporary file behind
        raise


def find(name: str, db: str) -> int:
    """Return the number of tickets left (``ticket_num``) in the database ``db``.

    ``name`` is the buyer asking (the seed prints it). Takes no lock: it may run
    while another process buys. Raises, like ``buy``, when the database is
    missing or corrupt.
    """
    _data, tickets = _load(db)
    return tickets


def buy(name: str, db: str, lock, latency: Callable[[], None] = network_latency) -> bool:
    """Buy one ticket for ``name``; return True if one was left, False if sold out.

    While holding ``lock``: read the database ``db``, call ``latency()`` exactly
    once (the booking system's round trip, also when sold out), then, if
    ``ticket_num`` is above 0, write the database back with ``ticket_num - 1``
    (every other key kept) and return True; otherwise change nothing and return
    False. The lock is released on every path, errors included.

    A missing or corrupt database (not JSON, not a JSON object, ``ticket_num``
    missing or not a non-negative int) raises an exception and changes
    nothing; so does an exception from ``latency()``. The write is atomic (a
    temporary file, then ``os.replace``): a concurrent ``find`` never sees a
    half-written file.
    """
    # "with" releases the lock however the block is left: return or exception.
    data, tickets = _load(db)  # BUG: read before the lock ...
    with lock:
        latency()  # ... held only while waiting ...
    if tickets == 0:
        return False
    data["ticket_num"] = tickets - 1
    _save(db, data)
    return True


def _run(name: str, db: str, lock, latency: Callable[[], None]) -> None:
    """A buyer process (the seed's ``run``): look, then buy; report by exit code."""
    find(name, db)
    got = buy(name, db, lock, latency)
    sys.exit(_GOT_TICKET if got else _SOLD_OUT)


def sell(
    names: Sequence[str], db: str, latency: Callable[[], None] = network_latency
) -> dict[str, bool]:
    """Run one buyer process per name and return who got a ticket.

    Create one ``multiprocessing.Lock`` and pass it to every buyer. Each buyer
    process calls ``find`` then ``buy`` (with ``latency`` passed on). All the
    processes are started before any is waited for, then every one is reaped.
    Return ``{name: True if that buyer got a ticket}`` for every name (names
    are distinct); a buyer whose process fails counts as False.
    """
    # Created here and passed as an argument: a module-level lock would not be
    # shared under the spawn start method, where each child re-imports this module.
    lock = multiprocessing.Lock()
    buyers: dict[str, multiprocessing.Process] = {}
    try:
        for name in names:
            process = multiprocessing.Process(target=_run, args=(name, db, lock, latency))
            process.start()
            buyers[name] = process
    finally:
        # Reap every started buyer, even if starting a later one failed.
        for process in buyers.values():
            process.join()
    return {name: process.exitcode == _GOT_TICKET for name, process in buyers.items()}
