"""ALTERNATIVE: a TicketDB class, os-level temp-file writes, a Process subclass reporting by Pipe.

``buy`` uses ``with lock:`` but does its I/O through a small ``TicketDB`` class (``os.open``
with ``O_EXCL`` for the temporary file, ``os.fsync``, then ``os.replace``). ``sell`` starts
one ``Buyer`` (a ``multiprocessing.Process`` subclass overriding ``run``) per name; each
buyer sends its answer through its own one-way ``multiprocessing.Pipe``, which the parent
reads after joining; a buyer that died before sending counts as False.
"""

import json
import multiprocessing
import os
import time
import uuid
from collections.abc import Callable, Sequence


class BadDatabase(ValueError):
    """The ticket database is not a JSON object with a non-negative integer ticket_num."""


def network_latency() -> None:
    """The default latency: a few milliseconds' sleep."""
    time.sleep(0.003)


class TicketDB:
    """The JSON file of tickets."""

    def __init__(self, path: str) -> None:
        self.path = os.path.realpath(path)

    def load(self) -> dict:
        with open(self.path, "rb") as f:
            raw = f.read()
        try:
            data = json.loads(raw)
        except ValueError as e:
            raise BadDatabase(f"{self.path} is not JSON: {e}") from e
        if not isinstance(data, dict):
            raise BadDatabase(f"{self.path} must hold a JSON object")
        try:
            num = data["ticket_num"]
        except KeyError:
            raise BadDatabase(f"{self.path} has no ticket_num") from None
        if isinstance(num, bool) or not isinstance(num, int) or num < 0:
            raise BadDatabase(f"{self.path}: bad ticket_num {num!r}")
        return data

    def store(self, data: dict) -> None:
        folder = os.path.dirname(self.path)
        tmp = os.path.join(folder, f".{os.path.basename(self.path)}.{uuid.uuid4().hex}.tmp")
        mode = os.stat(self.path).st_mode & 0o777
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            try:
                os.write(fd, json.dumps(data).encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


def find(name: str, db: str) -> int:
    """Return ticket_num; no lock."""
    return TicketDB(db).load()["ticket_num"]


def buy(name: str, db: str, lock, latency: Callable[[], None] = network_latency) -> bool:
    """Under ``lock``: load, ``latency()``, then take one ticket if any is left."""
    database = TicketDB(db)
    with lock:
        data = database.load()
        latency()
        left = data["ticket_num"]
        if left == 0:
            return False
        database.store({**data, "ticket_num": left - 1})
        return True


class Buyer(multiprocessing.Process):
    """A buyer process: find, buy, then send True/False through its pipe."""

    def __init__(self, name: str, db: str, lock, latency, conn) -> None:
        super().__init__()
        self.buyer, self.db, self.lock, self.latency, self.conn = name, db, lock, latency, conn

    def run(self) -> None:
        find(self.buyer, self.db)
        got = buy(self.buyer, self.db, self.lock, self.latency)
        self.conn.send(got)
        self.conn.close()


def sell(
    names: Sequence[str], db: str, latency: Callable[[], None] = network_latency
) -> dict[str, bool]:
    """Start a Buyer per name sharing one lock, join them all, report who got a ticket."""
    lock = multiprocessing.Lock()
    buyers = {}
    try:
        for name in names:
            reader, writer = multiprocessing.Pipe(duplex=False)
            buyer = Buyer(name, db, lock, latency, writer)
            buyer.start()
            writer.close()  # the child holds its own copy
            buyers[name] = (buyer, reader)
    finally:
        for buyer, _ in buyers.values():
            buyer.join()
    result = {}
    for name, (_, reader) in buyers.items():
        try:
            result[name] = reader.poll() and reader.recv() is True
        except (EOFError, OSError):
            result[name] = False
        finally:
            reader.close()
    return result
