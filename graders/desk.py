"""Desks: callables handed to student code that are served by the grader's own process, so
that what student code did with them is observed outside the student's processes.

A desk is a Unix socket whose other end is a thread of the grader (the pytest process, never
the grading child); the scenario hands student code a callable of graders/scenarios/common.py
(`ask_desk`) that connects, says what it is doing and waits for the desk's answer. The desk
decides when each call returns, and notes from its own side which calls overlapped, which
process each came from (the kernel's SO_PEERCRED; where there is none, as the caller says) and
when. The socket's folder is writable by the grader only, so student code can talk to a desk,
never replace it. What a caller says besides its call (a flag, an item) is testimony, labelled
so; what the desk saw and read itself is evidence.

- `Booking` (tickets): the contract's latency() is "the booking system's round trip"; here it
  is one. The first call is held until a second buyer comes in (two buyers inside latency()
  at once, which a lock held around read, latency() and write never allows) or every other
  buyer is asleep on the lock; the desk reads the database itself as each call comes in (under
  the lock every buyer finds it as the previous buy left it, one ticket fewer per sale, so a
  lost update shows as a value found twice) and at the end, from a folder it made.
- `Dining` (producer_consumer): kitchen()'s eat(name, item); the desk counts every item eaten
  and which process ate it, and when kitchen() said it returned.
- `Peer` (echo_server): the grader's echo server, the other end of chat()'s connection; the
  desk is told when chat() returned and counts the connections it left open.
- `Crowd` (echo_server): the grader's clients of serve(), in the grader's process; what each
  sent and got back is theirs.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import stat
import struct
import tempfile
import threading
import time
from dataclasses import dataclass

import psutil

from graders import observe
from graders._child import children_of

UNIX = hasattr(socket, "AF_UNIX")  # Windows: a loopback TCP socket, and the caller's own pid
MAX_CONNECTIONS = 5000  # past this many, a desk answers nothing more (hostile code)
MESSAGE_LIMIT = 8192  # bytes of one call a desk reads at most
READ_LIMIT = 0.5  # seconds a caller gets to send its message (it sends it at once)
DB_LIMIT = 1 << 20  # bytes of the database the desk reads at most


@dataclass
class Call:
    """One call as a desk saw it."""

    kind: str  # "call" (a latency), "eat"
    pid: int  # the caller's process: the kernel's answer where there is one
    said_pid: int  # what the caller said it was (testimony)
    said: list  # what else the caller said (testimony): a flag, a name and an item
    came: float  # monotonic seconds, the grader's clock
    found: object = None  # what the desk read itself when the call came in


class Desk:
    """A desk's server. Start it with `with SomeDesk(...) as desk:`, hand `desk.address` to
    the scenario, read `desk.observed()` after the run. Subclasses say what a call finds
    (`find`) and how it is answered (`answer`, which may sleep: each call has its thread)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.overlap = False  # a call came in while another was being answered
        self.entered = 0  # "enter" notes of the grader's own processes
        self.caller: int | None = None  # the scenario's process, as the kernel says
        # the scenario's marks: name -> how many calls there were then ("returned": the code
        # under test returned; "joining": kitchen() waits in q.join()); timing, testimony
        self.marks: dict[str, int] = {}

    def __enter__(self):
        where = _open_to_all(tempfile.gettempdir())
        self._folder = tempfile.mkdtemp(prefix="desk", dir=where)
        os.chmod(self._folder, 0o755)  # others may connect, never unlink or replace
        self._data = tempfile.mkdtemp(prefix="data", dir=where)
        os.chmod(self._data, 0o777)  # for student code: a database it replaces, say
        if UNIX:
            self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            path = os.path.join(self._folder, "s")
            self._listener.bind(path)
            os.chmod(path, 0o666)
            self.address: object = path
        else:
            self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._listener.bind(("127.0.0.1", 0))
            self.address = list(self._listener.getsockname())
        self._listener.listen(128)
        self._listener.settimeout(0.05)
        self._lock = threading.Lock()
        self._held = 0
        self._stop = threading.Event()
        self._handlers: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, name="desk", daemon=True)
        self._accepting.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._accepting.join(5)
        deadline = time.monotonic() + 3.0  # a call can only be mid-nap by now (daemons)
        for t in self._handlers:
            t.join(max(0.0, deadline - time.monotonic()))
        self._listener.close()
        shutil.rmtree(self._folder, ignore_errors=True)
        shutil.rmtree(self._data, ignore_errors=True)

    def run(self, student, scenario, *args, **kwargs) -> dict:
        """`student.run(scenario, self.address, *self.handed(), *args, **kwargs)` with this
        desk open: the scenario's result with what the desk saw, which overrides whatever of
        the same name the grading child reported."""
        with self:
            r = student.run(scenario, self.address, *self.handed(), *args, **kwargs)
            return {**r, **self.observed()}

    def handed(self) -> tuple:
        """What a scenario gets besides the address (Booking: the database)."""
        return ()

    def observed(self) -> dict:
        return {}

    def seen(self) -> list[Call]:
        with self._lock:
            return list(self.calls)

    # what subclasses decide
    def find(self, kind: str, said: list):
        return None

    def answer(self, n: int, call: Call) -> bytes:
        return b"go"

    # ---------------------------------------------------------------------------- serving

    def _accept(self) -> None:
        """Read each connection's message here (a caller sends it at once: READ_LIMIT s at
        most) and answer the quick ones here too; a call, which the desk may hold, gets a
        thread of its own."""
        served = 0
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            served += 1
            message = self._read(conn) if served <= MAX_CONNECTIONS else None
            if message is None:
                conn.close()
                continue
            kind, said_pid, said = message
            if kind in ("call", "eat"):
                t = threading.Thread(target=self._call, args=(conn, kind, said_pid, said),
                                     name="desk-call", daemon=True)
                self._handlers.append(t)
                t.start()
                continue
            with conn:
                self._note(conn, kind, said_pid, said)

    def _read(self, conn: socket.socket) -> tuple[str, int, list] | None:
        """A message: a line "<kind> <pid>", optionally a JSON list, then end of input."""
        conn.settimeout(READ_LIMIT)
        data = b""
        try:
            while len(data) <= MESSAGE_LIMIT:
                got = conn.recv(4096)
                if not got:
                    break
                data += got
            head, _, rest = data.partition(b"\n")
            kind, said_pid = head.split()[0].decode(), int(head.split()[1])
            said = json.loads(rest) if rest.strip() else []
        except (OSError, IndexError, ValueError, UnicodeDecodeError):
            return None
        if kind not in ("call", "eat", "count", "enter", "caller", "mark") or \
                not isinstance(said, list):
            return None
        conn.settimeout(2.0)
        return kind, said_pid, said

    def _peer(self, conn: socket.socket, said: int) -> int:
        if UNIX and hasattr(socket, "SO_PEERCRED"):
            pid, _uid, _gid = struct.unpack("3i", conn.getsockopt(
                socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
            return pid
        return said

    def _note(self, conn: socket.socket, kind: str, said_pid: int, said: list) -> None:
        """The quick kinds: count (the calls so far), enter, caller, mark."""
        with self._lock:
            reply = str(len(self.calls)).encode() if kind == "count" else b"ok"
            if kind == "enter":
                self.entered += 1
            elif kind == "caller" and self.caller is None:
                self.caller = self._peer(conn, said_pid)
            elif kind == "mark":
                name = str(said[0]) if said else "returned"
                self.marks.setdefault(name[:40], len(self.calls))
        _send(conn, reply)

    def _call(self, conn: socket.socket, kind: str, said_pid: int, said: list) -> None:
        with conn:
            pid = self._peer(conn, said_pid)
            found = self.find(kind, said)
            with self._lock:
                n = len(self.calls)
                if self._held:
                    self.overlap = True
                self._held += 1
                call = Call(kind=kind, pid=pid, said_pid=said_pid, said=said,
                            came=time.monotonic(), found=found)
                self.calls.append(call)
            try:
                answer = self.answer(n, call)
            finally:
                with self._lock:  # before the answer: the next caller may come in at once
                    self._held -= 1
            _send(conn, answer)


class Booking(Desk):
    """The tickets latency (see the module's doc): `Booking(db_content, hold=..., ...)`;
    `desk.db` is the database, in a folder the student's processes may write.

    hold: seconds the first call is held, waiting for a second one (0: not held).
    expect: once this many of the grader's own buyers said "enter", the hold ends `settle` s
    later (a lock-free buyer reaches latency() far sooner).
    buyers: with it, a first call that no second one joined is held until the caller's
    sibling processes, at least buyers - 1 of them, are all asleep (waiting for the lock),
    at most `assemble` s more; then no late buyer's find() reads a file being written.
    nap: (low, high) seconds every later call lasts, drawn from `seed`.
    fail_on: the call number (from 0) answered "raise": the caller raises ConnectionError;
    every other call then lasts 1 ms and waits, at most `after_fail` s, for its siblings to
    be asleep before it returns.
    """

    nap = (0.0005, 0.003)

    def __init__(self, db_content: dict, hold: float = 0.0, seed: int = 0, expect: int = 0,
                 settle: float = 0.05, buyers: int = 0, assemble: float = 1.5,
                 fail_on: int | None = None, after_fail: float = 0.0) -> None:
        super().__init__()
        self.db_content, self.hold, self.expect, self.settle = db_content, hold, expect, settle
        self.buyers, self.assemble = buyers, assemble
        self.fail_on, self.after_fail = fail_on, after_fail
        self._rng = random.Random(seed)

    def __enter__(self) -> Booking:
        super().__enter__()
        self.db = os.path.join(self._data, "db.json")
        with open(self.db, "w", encoding="utf-8") as f:
            json.dump(self.db_content, f)
        os.chmod(self.db, 0o666)
        return self

    def handed(self) -> tuple:
        return (self.db,)

    def find(self, kind: str, said: list):
        return self.ticket_num()  # under a working lock, nobody writes it meanwhile

    def answer(self, n: int, call: Call) -> bytes:
        with self._lock:
            nap = self._rng.uniform(*self.nap)  # drawn in call order: the same every run
        if n == self.fail_on:
            return b"raise"
        if self.fail_on is not None:
            time.sleep(0.001)
            _others_asleep(call.pid, self.after_fail)
        elif n == 0:
            if self.hold:
                self._hold_first(call.pid)
        else:
            time.sleep(nap)
        return b"go"

    def _hold_first(self, pid: int) -> None:
        deadline = time.monotonic() + self.hold
        settled = self.expect == 0
        while time.monotonic() < deadline and not self._stop.is_set():
            with self._lock:
                if len(self.calls) > 1:
                    return  # a second buyer came in: the overlap is seen
                entered = self.entered
            if not settled and entered >= self.expect:
                settled, deadline = True, min(deadline, time.monotonic() + self.settle)
            time.sleep(0.002)
        if self.buyers:
            _others_asleep(pid, self.assemble, at_least=self.buyers - 1)

    def ticket_num(self, data=None):
        """ticket_num in the database now (or in `data`, the database as read_db() gave it),
        read by the grader, or what is wrong with it."""
        data = self.read_db() if data is None else data
        return data.get("ticket_num") if isinstance(data, dict) else data

    def read_db(self):
        """The database as the grader reads it: a dict, or a string saying what is wrong. A
        regular file only (no link followed, no FIFO waited on), DB_LIMIT bytes at most."""
        try:
            fd = os.open(self.db, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
                         | getattr(os, "O_NONBLOCK", 0))
        except OSError as e:
            return f"unreadable ({type(e).__name__}: {e.strerror})"
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return "unreadable (not a regular file)"
            data = os.read(fd, DB_LIMIT + 1)
        finally:
            os.close(fd)
        try:
            return json.loads(data)
        except ValueError as e:
            return f"unreadable (ValueError: {e})"

    def observed(self) -> dict:
        """What the desk saw, as the verdicts use it (merged into a scenario's result)."""
        calls = [c for c in self.seen() if c.kind == "call"]
        pids = [c.pid for c in calls]
        after = self.read_db()
        return {
            "calls": len(calls),
            "overlap": self.overlap,
            "unlocked": sum(c.said[:1] == [True] for c in calls),  # the caller's own check
            "processes": len(set(pids)),
            "in_caller": pids.count(self.caller) if self.caller is not None else 0,
            "found": [c.found for c in calls],
            "remaining": self.ticket_num(after),
            "after": after,
        }


class Dining(Desk):
    """kitchen()'s eat(name, item): each call is held `delay` s, and answered "raise" for
    the items in `bad` (the caller raises BadBun). The item `hold` is held until the scenario
    marks "joining" (kitchen() waits in q.join()), at most `hold_max` s: a kitchen that stops
    its consumers without q.join() has then always left it uneaten, however fast the others
    were eaten. observed(): the items eaten by the time the scenario marked "returned" (all of
    them without that mark), each with the eater's name and process (the kernel's), how many
    more came after, and the process that called kitchen()."""

    def __init__(self, delay: float = 0.0, bad: tuple = (), hold: str | None = None,
                 hold_max: float = 1.0) -> None:
        super().__init__()
        self.delay, self.bad, self.hold, self.hold_max = delay, set(bad), hold, hold_max

    def answer(self, n: int, call: Call) -> bytes:
        item = call.said[1] if len(call.said) > 1 else None
        if self.hold is not None and item == self.hold:
            deadline = time.monotonic() + self.hold_max
            while "joining" not in self.marks and time.monotonic() < deadline:
                if self._stop.wait(0.002):
                    break
        time.sleep(self.delay)
        return b"raise" if item in self.bad else b"go"

    def observed(self) -> dict:
        meals = [c for c in self.seen() if c.kind == "eat"]
        upto = min(len(meals), self.marks.get("returned", len(meals)))
        rows = [[str(c.said[0])[:60] if c.said else "", c.pid,
                 c.said[1] if len(c.said) > 1 else None] for c in meals]
        return {"eaten": rows[:upto], "eaten_later": len(rows) - upto,
                "my_pid": self.caller}


def _open_to_all(folder: str) -> str:
    """`folder` if every user can reach it (the student's throwaway uid must), else /tmp."""
    path = os.path.realpath(folder)
    while os.name == "posix":
        if not os.stat(path).st_mode & stat.S_IXOTH:
            return "/tmp"
        if path == os.path.dirname(path):
            break
        path = os.path.dirname(path)
    return folder


def _send(conn: socket.socket, data: bytes) -> None:
    try:
        conn.sendall(data)
    except OSError:
        pass  # the caller is gone (killed, or it gave up)


def _ppid(pid: int) -> int | None:
    try:
        return psutil.Process(pid).ppid()
    except psutil.Error:
        return None


def _others_asleep(pid: int, limit: float, at_least: int = 0) -> None:
    """Wait, at most `limit` s, until every other child of `pid`'s parent (the buyers sell()
    started, waiting for the lock `pid` holds), at least `at_least` of them, sleeps or has
    ended, each of its threads, seen twice alike in Linux's /proc (multiprocessing's resource
    tracker and forkserver are not buyers); elsewhere return at once."""
    parent = _ppid(pid)
    if parent is None or children_of(parent) is None:
        return
    deadline, before = time.monotonic() + limit, None
    while time.monotonic() < deadline:
        seen, buyers = [], 0  # each thread's state and context switches: asleep twice alike
        for kid in children_of(parent) or []:
            try:
                if kid == pid or _helper(kid, parent):
                    continue
                buyers += 1
                for task in os.listdir(f"/proc/{kid}/task"):
                    with open(f"/proc/{kid}/task/{task}/status") as f:
                        seen.append(tuple(line for line in f if line.startswith(
                            ("State:", "voluntary_ctxt", "nonvoluntary_ctxt"))))
            except OSError:
                continue  # ended meanwhile
        if buyers >= at_least and all(fields[0].split()[1] in ("S", "Z")
                                      for fields in seen if fields):
            if seen == before:
                return
            before = seen
        else:
            before = None
        time.sleep(0.01)


def _helper(pid: int, parent: int) -> bool:
    """Whether `pid` is multiprocessing's resource tracker or forkserver, not a buyer (a buyer
    forked by the forkserver shows the forkserver's command line: its parent's)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            line = f.read()
        with open(f"/proc/{parent}/cmdline", "rb") as f:
            theirs = f.read()
    except OSError:
        return False
    return line != theirs and (b"resource_tracker import main" in line
                               or b"forkserver import main" in line)


class Peer(Desk):
    """The other end of the student's TCP connections, in the grader's process: `server` (made
    here by `make_server()`, e.g. the echo server of graders/scenarios/echo_server.py) answers
    chat(); the scenario gets its port, and calls the desk with ["returned"] once chat() has
    returned (the desk then waits, at most `limit` s, for the client to close each connection,
    and counts those still open) or ["hang up"] (the server closes its side of each one).
    observed(), under "peer": the connections, those left open when chat() returned, and every
    byte the server received, decoded."""

    def __init__(self, make_server, limit: float) -> None:
        super().__init__()
        self.make_server, self.limit = make_server, limit
        self.left_open: int | None = None

    def __enter__(self) -> Peer:
        super().__enter__()
        self.server = self.make_server()
        return self

    def __exit__(self, *exc) -> None:
        self.server.close()
        super().__exit__(*exc)

    def handed(self) -> tuple:
        return (self.server.port,)

    def answer(self, n: int, call: Call) -> bytes:
        if call.said[:1] == ["hang up"]:
            self.server.hang_up()
        elif call.said[:1] == ["returned"] and self.left_open is None:
            ended = self.server.ended
            deadline = time.monotonic() + self.limit
            while not all(e.is_set() for e in ended) and time.monotonic() < deadline:
                time.sleep(0.01)
            self.left_open = sum(not e.is_set() for e in ended)
        return b"go"

    def observed(self) -> dict:
        received = list(self.server.received)
        return {"peer": {"connections": len(received), "left_open": self.left_open,
                         "sent": b"".join(received).decode("utf-8", "replace")}}


class Crowd(Desk):
    """`clients` clients in the grader's process for a server that runs in the grading child:
    the scenario calls the desk with ["exchange", port, spinning] once its server listens,
    and the desk runs `exchange(port, spinning)` (which returns what its clients saw, and
    their sockets, kept open) before it answers; ["leave"] closes those sockets. The clients
    connect only to a port that the caller's processes listen on, as the kernel's socket table
    says where it can be read (not, say, to a server of the grader's). observed(): what the
    clients saw, at the top of the scenario's result; if they never connected, that they were
    all refused (nothing of the child's result stands in for it)."""

    def __init__(self, exchange, clients: int) -> None:
        super().__init__()
        self.exchange = exchange
        self.clients = clients
        self.saw: dict = {}
        self.socks: list = []

    def __exit__(self, *exc) -> None:
        self._leave()
        super().__exit__(*exc)

    def _leave(self) -> None:
        for sock in self.socks:
            try:
                sock.close()
            except OSError:
                pass

    def answer(self, n: int, call: Call) -> bytes:
        what = call.said[:1]
        if what == ["exchange"] and not self.saw and len(call.said) == 3:
            try:
                port, spinning = int(call.said[1]), bool(call.said[2])
            except (TypeError, ValueError):
                return b"go"
            if _listens(call.pid, port):
                self.saw, self.socks = self.exchange(port, spinning)
            else:
                self.saw = self._nobody(not_theirs=port)
        elif what == ["leave"]:
            self._leave()
        return b"go"

    def _nobody(self, **more) -> dict:
        """What the clients saw when none of them connected."""
        return {"refused": self.clients, "statuses": {}, "replies": 0, "wrong": None,
                "exchange_seconds": None, **more}

    def observed(self) -> dict:
        return dict(self.saw) if self.saw else self._nobody()


def _listens(pid: int, port: int) -> bool:
    """Whether `pid` or a process below it listens on TCP `port` (True where the kernel's
    tables cannot be read)."""
    found = observe.listening([pid, *observe.children(pid, recursive=True)])
    return found is None or f"port {port}" in found
