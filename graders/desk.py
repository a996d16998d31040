"""The booking desk: a latency() served by the grader's own process, so that what a race of
buyers did is observed outside the student's processes.

The contract's latency() is "the booking system's round trip". Here it is one: every call
connects to a Unix socket whose other end is a thread of the grader (the pytest process, never
the grading child), says "call", and returns when the desk answers. The desk, not the caller,
decides how long each call lasts (the first one is held until a second buyer comes in or every
other buyer is asleep on the lock), and notes from its own side:

- which calls overlapped: a call that came in while another was held is two buyers inside
  latency() at once, which a lock held around read, latency() and write never allows;
- which process each call came from, as the kernel says (SO_PEERCRED; where there is none, as
  the caller says), so a sell() whose buys run in one process or in threads shows;
- what the database held when each call came in, read by the grader itself: under the lock
  every buyer finds it as the previous buy left it, one ticket fewer per sale, so a lost update
  shows as a value found twice; and ticket_num at the end.

The database lives in a folder the desk makes (writable by the student's uid); the socket in
one only the grader can write, so student code can talk to the desk but never replace it.
What the caller says besides "call" (whether the lock passed to buy() was held) is testimony
and labelled so. The client side, `booking()` and friends, is in graders/scenarios/tickets.py.
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
from dataclasses import dataclass, field

from graders._child import children_of

UNIX = hasattr(socket, "AF_UNIX")  # Windows: a loopback TCP socket, and the caller's own pid
MAX_CONNECTIONS = 5000  # past this many, a desk answers nothing more (hostile code)
DB_LIMIT = 1 << 20  # bytes of the database the desk reads at most


@dataclass
class Call:
    """One latency() call as the desk saw it."""

    pid: int  # the caller's process: the kernel's answer where there is one
    said_pid: int  # what the caller said it was (testimony)
    unlocked: bool  # the caller's own check: the lock passed to buy() was free (testimony)
    came: float  # monotonic seconds, the grader's clock
    found: object  # ticket_num when the call came in, read by the grader
    answered: float | None = None


@dataclass
class Desk:
    """Start with `with Desk(...) as desk:`; hand `desk.address` (and `desk.db`) to the
    scenario; read `desk.observed()` after the run.

    hold: seconds the first call is held, waiting for a second one (0: not held).
    expect: once this many of the grader's own buyers said "enter", the hold ends `settle` s
    later (a lock-free buyer reaches latency() far sooner).
    buyers: with it, a first call that no second one joined is held until the caller's
    sibling processes, at least buyers - 1 of them, are all asleep (waiting for the lock),
    at most `assemble` s more; then no late buyer's find() reads a file being written.
    nap: (low, high) seconds every later call lasts, drawn from `seed`.
    fail_on: the call number (from 0) answered "raise": the caller raises ConnectionError.
    after_fail: with fail_on, every other call waits, at most this long, for its siblings to
    be asleep before it returns (as `buyers`).
    """

    db_content: dict | None = None
    hold: float = 0.0
    seed: int = 0
    expect: int = 0
    settle: float = 0.05
    buyers: int = 0
    assemble: float = 1.5
    nap: tuple[float, float] = (0.0005, 0.003)
    fail_on: int | None = None
    after_fail: float = 0.0
    calls: list[Call] = field(default_factory=list)
    overlap: bool = False
    entered: int = 0
    caller: int | None = None  # the process that called sell(), as registered by the scenario

    def __enter__(self) -> Desk:
        where = _open_to_all(tempfile.gettempdir())
        self._folder = tempfile.mkdtemp(prefix="desk", dir=where)
        os.chmod(self._folder, 0o755)  # others may connect, never unlink or replace
        self._db_folder = tempfile.mkdtemp(prefix="db", dir=where)
        os.chmod(self._db_folder, 0o777)  # buy() writes a temporary file and os.replace()s it
        self.db = os.path.join(self._db_folder, "db.json")
        if self.db_content is not None:
            with open(self.db, "w", encoding="utf-8") as f:
                json.dump(self.db_content, f)
            os.chmod(self.db, 0o666)
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
        self._rng = random.Random(self.seed)
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
        shutil.rmtree(self._db_folder, ignore_errors=True)

    # ------------------------------------------------------------------- what the grader reads

    def ticket_num(self):
        """ticket_num in the database now, read by the grader (or what is wrong with it)."""
        data = self.read_db()
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
        with self._lock:
            calls = list(self.calls)
        pids = [c.pid for c in calls]
        return {
            "calls": len(calls),
            "overlap": self.overlap,
            "unlocked": sum(c.unlocked for c in calls),
            "processes": len(set(pids)),
            "in_caller": pids.count(self.caller) if self.caller is not None else 0,
            "found": [c.found for c in calls],
            "remaining": self.ticket_num(),
            "after": self.read_db(),
        }

    # ---------------------------------------------------------------------------- serving

    def _accept(self) -> None:
        served = 0
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            served += 1
            if served > MAX_CONNECTIONS:
                conn.close()
                continue
            t = threading.Thread(target=self._serve, args=(conn,), name="desk-call",
                                 daemon=True)
            self._handlers.append(t)
            t.start()

    def _peer(self, conn: socket.socket, said: int) -> int:
        if UNIX and hasattr(socket, "SO_PEERCRED"):
            pid, _uid, _gid = struct.unpack("3i", conn.getsockopt(
                socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
            return pid
        return said

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(2.0)
            try:
                words = conn.recv(64).split()
            except OSError:
                return
            try:
                kind, said = words[0], int(words[1])
            except (IndexError, ValueError):
                return
            with self._lock:
                if kind == b"count":
                    reply = str(len(self.calls)).encode()
                elif kind == b"enter":
                    self.entered += 1
                    reply = b"ok"
                elif kind == b"caller":
                    if self.caller is None:
                        self.caller = self._peer(conn, said)
                    reply = b"ok"
                else:
                    reply = None
            if reply is not None:
                _send(conn, reply)
                return
            if kind != b"call":
                return
            self._call(conn, said, unlocked=words[2:3] == [b"1"])

    def _call(self, conn: socket.socket, said: int, unlocked: bool) -> None:
        pid = self._peer(conn, said)
        found = self.ticket_num()  # under a working lock, nobody writes it meanwhile
        with self._lock:
            n = len(self.calls)
            if self._held:
                self.overlap = True
            self._held += 1
            call = Call(pid=pid, said_pid=said, unlocked=unlocked, came=time.monotonic(),
                        found=found)
            self.calls.append(call)
            nap = self._rng.uniform(*self.nap)
        answer = b"go"
        if n == self.fail_on:
            answer = b"raise"
        elif self.fail_on is not None:
            time.sleep(0.001)
            _others_asleep(pid, self.after_fail)
        elif n == 0:
            if self.hold:
                self._hold_first(pid)
        else:
            time.sleep(nap)
        with self._lock:  # before the answer: the next buyer may come in at once after it
            self._held -= 1
            call.answered = time.monotonic()
        _send(conn, answer)

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
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
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
