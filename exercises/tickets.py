"""The ticket office: a mutex lock between processes (course notes, section 3: 互斥锁).

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

from collections.abc import Callable, Sequence


def network_latency() -> None:
    """Simulate the booking system's round trip: sleep a random 1 to 5 milliseconds."""
    raise NotImplementedError("time.sleep a random 1-5 ms")


def find(name: str, db: str) -> int:
    """Return the number of tickets left (``ticket_num``) in the database ``db``.

    ``name`` is the buyer asking (the seed prints it). Takes no lock: it may run
    while another process buys. Raises, like ``buy``, when the database is
    missing or corrupt.
    """
    raise NotImplementedError("json.load the db and return its ticket_num (no lock)")


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
    raise NotImplementedError(
        "with lock: read + check, latency() once, write ticket_num - 1 atomically"
    )


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
    raise NotImplementedError("one Lock, one Process per name (find then buy), start all, join all")
