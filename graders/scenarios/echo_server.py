"""Scenarios for echo_server.py: a threaded TCP echo server and its client (section 12).

Every socket lives on 127.0.0.1. The student's talk() and serve() run in threads of the
grading child (serve()'s crowd of clients, and the echo server chat() talks to, run in the
grader's own process: graders/desk.py's Crowd and Peer); a thread stuck in student code
cannot be killed, so the scenarios give up on it after a deadline, report what they saw (did
it return? how much CPU did it burn?) and leave the harness to kill the child.
"""

from __future__ import annotations

import contextlib
import random
import selectors
import signal
import socket
import string
import struct
import sys
import threading
import time
import traceback

import psutil

from graders._mark import N_
from graders.scenarios.common import ask_desk, is_a, plain

SUFFIX = b"jack, my_lover"  # the contract's SUFFIX: the grader does not trust the student's
CPU_WINDOW = 0.2  # seconds over which a thread's CPU use and recv() calls are measured
SPINS = 0.5  # share of CPU_WINDOW serve()'s threads may be running while all clients wait
SETTLED = 0.03  # ... or less: seconds in one blocking recv() call that show talk() is waiting
LONG_LINE = 1_000_000  # bytes without a newline: far beyond the 64 KiB limit

# What talk() is sent, piece by piece (each piece is one send, and the grader waits until
# talk() has received it before sending the next), and the lines it must answer.
PIECES = [b"hello\n", b"spl", b"it li", b"ne\n", b"a\nb\nc\n", b"x\ny", b"z\n",
          b"L" * 5000 + b"\n", "你好, 世界\n".encode(), b"  spaced out \t\n"]
LINES = [
    (b"hello", N_("a whole line in one send")),
    (b"split line", N_('one line sent in three pieces "spl", "it li", "ne\\n"')),
    (b"a", N_('three lines "a\\nb\\nc\\n" in one send')),
    (b"b", N_('three lines "a\\nb\\nc\\n" in one send')),
    (b"c", N_('three lines "a\\nb\\nc\\n" in one send')),
    (b"x", N_('a send "x\\ny" (a line and the start of the next)')),
    (b"yz", N_('the line "yz" sent as "y" at the end of one send and "z\\n" in the next')),
    (b"L" * 5000, N_("a 5000-byte line in one send")),
    ("你好, 世界".encode(), N_("a UTF-8 line")),
    (b"  spaced out \t", N_("a line with spaces and a tab at its ends")),
]
# What a client of serve_checks() ends as (besides "error: <exception type>"); the grader
# shows them translated.
STATUSES = (N_("waiting"), N_("done"), N_("wrong"), N_("closed"))
TAIL = b"tail without newline"
# A line whose reply cannot fit in the small socket buffers of _pair(small=True) (they hold
# about 12 KB together on Linux), well under the 64 KiB limit.
BIG_LINE = 40_000
# Sent to talk()'s thread while it is blocked writing a reply: a blocked send() then returns
# the count it has sent so far (any signal the process gets may do that); sendall() goes on.
NUDGE = getattr(signal, "SIGUSR2", None)  # SIGUSR1 dumps the stacks (graders/_boot)


# --------------------------------------------------------------------------------- helpers


def _cpu(thread: threading.Thread) -> float | None:
    """CPU seconds used so far by `thread` (None when it is gone or unknown)."""
    tid = thread.native_id
    if tid is None or not thread.is_alive():
        return None
    try:
        for t in psutil.Process().threads():
            if t.id == tid:
                return t.user_time + t.system_time
    except psutil.Error:
        pass
    return None


def _slices(thread: threading.Thread) -> int | None:
    """How many times the kernel has put `thread` on a CPU so far (the third figure of its
    /proc schedstat); None where the kernel keeps no such figure. A thread blocked in recv()
    is never put on one; a polling one is, again and again, however little CPU it gets on a
    loaded machine (sharing the interpreter lock with other pollers, it gets a few ms at a
    time)."""
    try:
        with open(f"/proc/self/task/{thread.native_id}/schedstat") as f:
            return int(f.read().split()[2])
    except (OSError, ValueError, TypeError, IndexError):
        return None


def _runnable_share(threads: list[threading.Thread], window: float = CPU_WINDOW) -> float | None:
    """The share of the next `window` s in which one of `threads` was running or waiting for
    a CPU, summed (the kernel's /proc schedstat: both in ns), whatever the machine's load: near
    1 while a thread of them spins (busy, or waiting its turn, never blocked), near 0 while
    they all block in recv() or accept(). None where the kernel keeps no such figures."""
    def ns() -> int | None:
        total = 0
        for t in threads:
            try:
                with open(f"/proc/self/task/{t.native_id}/schedstat") as f:
                    run, wait = f.read().split()[:2]
                total += int(run) + int(wait)
            except (OSError, ValueError, TypeError):
                if t.is_alive():
                    return None
        return total

    before = ns()
    start = time.monotonic()
    time.sleep(window)
    after = ns()
    if before is None or after is None:
        return None
    return round((after - before) / 1e9 / (time.monotonic() - start), 3)


def _cpu_used(thread: threading.Thread, window: float = CPU_WINDOW) -> float | None:
    """CPU seconds `thread` burns during the next `window` seconds (None if unknown)."""
    before = _cpu(thread)
    time.sleep(window)
    after = _cpu(thread)
    if before is None or after is None:
        return None
    return round(after - before, 3)


class _Watched(socket.socket):
    """The server end handed to talk(): counts the bytes its recv calls returned, so the
    grader knows a piece was received on its own before it sends the next one."""

    got = calls = 0
    sendalls = 0  # sendall() calls
    sends: list | None = None  # (bytes given, bytes sent) of each send() call that returned
    waiting = False  # a recv call is under way that blocks until bytes come (no timeout)

    def send(self, data, *args, **kwargs):
        n = super().send(data, *args, **kwargs)
        if self.sends is None:
            self.sends = []
        self.sends.append((len(memoryview(data)), n))
        return n

    def sendall(self, *args, **kwargs):
        self.sendalls += 1
        return super().sendall(*args, **kwargs)

    def _blocks(self, flags) -> bool:
        """Whether a recv call with these flags waits until bytes come, however long."""
        return self.gettimeout() is None and not (flags or 0) & getattr(socket, "MSG_DONTWAIT", 0)

    def recv(self, *args, **kwargs):
        self.calls += 1
        self.waiting = self._blocks(args[1] if len(args) > 1 else kwargs.get("flags"))
        try:
            data = super().recv(*args, **kwargs)
        finally:
            self.waiting = False
        self.got += len(data)
        return data

    def recv_into(self, *args, **kwargs):
        self.calls += 1
        self.waiting = self._blocks(args[2] if len(args) > 2 else kwargs.get("flags"))
        try:
            n = super().recv_into(*args, **kwargs)
        finally:
            self.waiting = False
        self.got += n
        return n


def _pair(small: bool = False) -> tuple[socket.socket, _Watched]:
    """A connected TCP pair on 127.0.0.1: (the grader's client, the server end for talk).
    small: tiny buffers (the client's receive buffer, set before connecting so the window
    is small too, and the server end's send buffer), so a reply of BIG_LINE bytes cannot
    be sent in one go while the client does not read."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if small:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.settimeout(5)
        client.connect(listener.getsockname())
        conn, _ = listener.accept()
    if small:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    server = _Watched(conn.family, conn.type, conn.proto, fileno=conn.detach())
    server.settimeout(None)
    return client, server


def _listener() -> socket.socket:
    """The grader's own listening socket, handed to the student's serve()."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    return s


def _read(sock: socket.socket, buf: bytearray, enough, limit: float, abort=None) -> str:
    """Read into `buf` until enough(buf), EOF, an error, `limit` s without new bytes, or
    abort() (checked every 50 ms). Returns "enough", "eof", "quiet" or "error: ..."."""
    last = time.monotonic()
    while not (enough and enough(buf)):
        left = limit - (time.monotonic() - last)
        if left <= 0 or (abort and abort()):
            return "quiet"
        sock.settimeout(min(left, 0.05) if abort else left)
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError as e:
            return f"error: {type(e).__name__}"
        if not data:
            return "eof"
        buf += data
        last = time.monotonic()
    return "enough"


def _read_line(sock: socket.socket, limit: float, abort=None) -> bytes | None:
    """One reply line (with its newline) from `sock`, or None within `limit` s."""
    buf = bytearray()
    _read(sock, buf, lambda b: b"\n" in b, limit, abort)
    return bytes(buf) if b"\n" in buf else None


def _describe(error: BaseException | None) -> str | None:
    """An exception raised by student code, with the student's line it came from."""
    if error is None:
        return None
    import echo_server

    text = f"{type(error).__name__}: {error}"
    mine = [f for f in traceback.extract_tb(error.__traceback__)
            if f.filename == echo_server.__file__]
    if mine:
        text += f" (at echo_server.py line {mine[-1].lineno}: {mine[-1].line})"
    return text


def _close(sock: socket.socket, reset: bool = False) -> None:
    try:
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _accept_queue(listener: socket.socket) -> tuple[int, int] | None:
    """(connections waiting in `listener`'s accept queue, its backlog), as the kernel keeps
    them (Linux's TCP_INFO of a listening socket: tcpi_unacked, tcpi_sacked); None where the
    OS does not tell. Once the queue holds more than the backlog, Linux drops every SYN that
    comes (nobody accepting, it stays so): what a client's connect() will meet is known."""
    if not sys.platform.startswith("linux") or not hasattr(socket, "TCP_INFO"):
        return None
    try:
        info = listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    except OSError:
        return None
    if len(info) < 32 or info[0] != 10:  # tcpi_state: TCP_LISTEN
        return None
    return struct.unpack_from("=II", info, 24)


def _queue_full(listener: socket.socket) -> bool | None:
    """Whether `listener`'s accept queue is full (Linux drops the next SYN); None: unknown."""
    queue = _accept_queue(listener)
    return None if queue is None else queue[0] > queue[1]


# ------------------------------------------------------------------------------ talk()


_talks: list[_Talk] = []  # every talk() run of this child, to find one not implemented


class _Talk:
    """The student's talk(sock) running in its own thread, and what came of it."""

    def __init__(self, sock: socket.socket, hold: bool = False):
        self.sock = sock
        self.error: BaseException | None = None
        self.closed: bool | None = None
        self.done = threading.Event()
        # hold: the thread outlives talk() until release is set, so a signal sent to it
        # never targets a thread that has ended
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self.thread = threading.Thread(target=self._main, name="talk", daemon=True)
        self.thread.start()
        _talks.append(self)

    def _main(self) -> None:
        import echo_server

        try:
            echo_server.talk(self.sock)
        except BaseException as e:  # noqa: BLE001 - reported to the student
            self.error = e
        self.closed = self.sock.fileno() == -1
        if not self.closed:
            _close(self.sock)
        self.done.set()
        self.release.wait(60)

    def report(self, limit: float) -> dict:
        """Wait up to `limit` s for talk() to return; if it does not, measure its CPU."""
        returned = self.done.wait(limit)
        out = {"returned": returned, "closed": self.closed, "cpu_stuck": None,
               "error": _describe(self.error)}
        if not returned:
            out["cpu_stuck"], out["calls_stuck"], out["slices_stuck"] = self.activity()
        return out

    def activity(self) -> tuple[float | None, int, int | None]:
        """CPU seconds used, recv() calls made and times put on a CPU (_slices) by talk()'s
        thread over the next CPU_WINDOW s; or
        less: once talk() is seen in one blocking recv call (no timeout, no MSG_DONTWAIT)
        for SETTLED s with no other call meanwhile, nothing will come to wake it (the
        client is silent, or gone and the call would have returned), so it is waiting,
        not spinning: what it used so far is what it would use over the window."""
        calls, before, slices = self.sock.calls, _cpu(self.thread), _slices(self.thread)
        deadline = time.monotonic() + CPU_WINDOW
        seen = None  # (the call under way, when it was first seen waiting)
        while (now := time.monotonic()) < deadline:
            call = self.sock.calls
            if not self.sock.waiting:
                seen = None
            elif seen is None or seen[0] != call:
                seen = (call, now)
            elif now - seen[1] >= SETTLED:
                break  # the same call, waiting all along: the count changes at each call
            time.sleep(min(0.005, max(0.0, deadline - now)))
        after, slices_after = _cpu(self.thread), _slices(self.thread)
        cpu = None if before is None or after is None else round(after - before, 3)
        slices = None if slices is None or slices_after is None else slices_after - slices
        return cpu, self.sock.calls - calls, slices


def _send_synced(client: socket.socket, server: _Watched, run: _Talk, pieces) -> int:
    """Send `pieces` one by one, after each waiting (0.5 s at most) until talk() has read it:
    each reaches talk() in recv() calls of its own. Returns how many talk() had not read."""
    sent = unsynced = 0
    for piece in pieces:
        client.sendall(piece)
        sent += len(piece)
        deadline = time.monotonic() + 0.5
        while server.got < sent and not run.done.is_set() and time.monotonic() < deadline:
            time.sleep(0.001)
        unsynced += server.got < sent
    return unsynced


def _talk_lines(limit: float) -> dict:
    """Lines whole, split and batched; then a partial line and a half-close (EOF)."""
    client, server = _pair()
    run = _Talk(server)
    unsynced = _send_synced(client, server, run, PIECES)
    expected = b"".join(line + SUFFIX + b"\n" for line, _ in LINES)
    got = bytearray()
    ended = _read(client, got, lambda b: len(b) >= len(expected), limit)
    out = {"got": bytes(got).decode("utf-8", "replace"), "ended": ended,
           "unsynced": unsynced, "before_close_returned": run.done.is_set()}
    after = bytearray()
    try:
        client.sendall(TAIL)
        client.shutdown(socket.SHUT_WR)  # the client is done: talk's recv() now returns b""
    except OSError as e:
        out["send_error"] = type(e).__name__
    out["after_eof"] = _read(client, after, None, limit)
    out["after"] = bytes(after[:200]).decode("utf-8", "replace")
    out.update(run.report(limit))
    _close(client)
    return out


def _talk_silent(limit: float) -> dict:
    """A client that stays connected and silent (talk must block), then closes."""
    client, server = _pair()
    run = _Talk(server)
    time.sleep(0.02)
    cpu, calls, slices = run.activity()
    out = {"cpu_silent": cpu, "calls_silent": calls, "slices_silent": slices,
           "returned_early": run.done.is_set()}
    _close(client)
    out.update(run.report(limit))
    return out


def _talk_reset(limit: float) -> dict:
    """A client that sends a line, reads the reply, then resets the connection (RST)."""
    client, server = _pair()
    run = _Talk(server)
    client.sendall(b"before the reset\n")
    out = {"reply": (_read_line(client, limit) or b"").decode("utf-8", "replace")}
    _close(client, reset=True)
    out.update(run.report(limit))
    return out


def _talk_long(limit: float) -> dict:
    """A line of 1 MB without a newline: talk must give up on it, return and close."""
    client, server = _pair()
    run = _Talk(server)
    client.sendall(b"ok\n")
    out = {"reply": (_read_line(client, limit) or b"").decode("utf-8", "replace")}

    def send_long():
        try:
            client.sendall(b"x" * LONG_LINE)
        except OSError:  # talk() closed on us: the expected end
            pass

    sender = threading.Thread(target=send_long, daemon=True)
    start = server.got
    sender.start()
    out.update(run.report(limit))
    if not out["returned"]:
        out["read"] = server.got - start
        _shutdown(client)  # the client gives up: now talk sees the end of the stream
        out["returned_after_close"] = run.done.wait(limit)
    sender.join(limit)
    _close(client)
    return out


def _unread(sock: socket.socket) -> int | None:
    """Bytes waiting in `sock`'s receive buffer (None where the OS cannot tell)."""
    try:
        import fcntl
        import termios

        return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0" * 4))[0]
    except (ImportError, OSError, AttributeError):
        return None


def _talk_big(limit: float) -> dict:
    """A BIG_LINE-byte line on small buffers: the client reads nothing until talk() is
    blocked writing the reply and has been sent NUDGE. A reply written with sendall() (or
    a loop over send() that checks the count) arrives whole; one bare send() loses the rest."""
    client, server = _pair(small=True)
    run = _Talk(server, hold=True)
    line = b"b" * BIG_LINE
    expected = line + SUFFIX + b"\n"
    # In two halves, the second sent once talk() has read the first: the line then reaches
    # talk() split on every run (not only when the kernel happens to split it), so a talk()
    # that answers each recv() as a line fails here every time, not on some runs only.
    _send_synced(client, server, run, [line[:BIG_LINE // 2]])
    client.sendall(line[BIG_LINE // 2:] + b"\n")
    # talk() has begun its reply (a correct one once it has received the whole line): part
    # of it waits, unread, in the client's buffer; the rest cannot fit, so the write that
    # sends it is blocked.
    deadline = time.monotonic() + 4 * limit
    while not run.done.is_set() and time.monotonic() < deadline:
        unread = _unread(client)
        if unread or (unread is None and server.got > BIG_LINE):  # None: the OS cannot tell
            break
        time.sleep(0.005)
    out = {"blocked": bool(not run.done.is_set() and _unread(client)), "nudged": 0}
    try:
        if out["blocked"] and NUDGE is not None:
            for _ in range(3):
                signal.pthread_kill(run.thread.ident, NUDGE)  # alive: held (see _Talk)
                out["nudged"] += 1
                time.sleep(0.02)
    finally:
        run.release.set()
    got = bytearray()
    out["ended"] = _read(client, got, lambda b: len(b) >= len(expected), limit)
    out["size"] = len(expected)
    out["received"] = len(got)
    out["whole"] = bytes(got) == expected
    out["prefix"] = expected.startswith(bytes(got))
    out["start"] = bytes(got[:60]).decode("utf-8", "replace")
    cut = bytes(got).find(SUFFIX)  # where the first reply ended: before BIG_LINE, too soon
    out["cut"] = cut if 0 <= cut < BIG_LINE else None
    out["sends"] = (server.sends or [])[:5]
    out["sendalls"] = server.sendalls
    out["returned_early"] = run.done.is_set()
    _close(client)
    out.update(run.report(limit))
    return out


def _ignore(signum, frame) -> None:
    """NUDGE's handler: the signal only interrupts a blocked system call."""


def talk_cases(limit: float) -> dict:
    """Run talk() on five connections at once: lines, silent client, reset, long line, and a
    big reply that a bare send() cannot write whole."""
    if NUDGE is not None:
        signal.signal(NUDGE, _ignore)  # here: the scenario runs in the main thread
    cases = {"lines": _talk_lines, "silent": _talk_silent, "reset": _talk_reset,
             "long": _talk_long, "big": _talk_big}
    results: dict = {}

    def case(name):
        try:
            results[name] = cases[name](limit)
        except BaseException as e:  # noqa: BLE001 - a grader-side surprise, reported as such
            results[name] = {"grader_error": f"{type(e).__name__}: {e}"}

    threads = [threading.Thread(target=case, args=(n,), daemon=True) for n in cases]
    for t in threads:
        t.start()
    for t in threads:
        t.join(6 * limit)
    for name in cases:
        results.setdefault(name, {"grader_error": "the grader's client never finished"})
    todo = [r for r in _talks if isinstance(r.error, NotImplementedError)]
    if todo:
        raise todo[0].error
    stuck = sum(t.is_alive() for t in threading.enumerate() if t.name == "talk")
    results["stuck_threads"] = stuck
    import echo_server

    theirs = getattr(echo_server, "SUFFIX", None)  # to tell a wrong SUFFIX from bad framing
    results["suffix"] = theirs.decode("utf-8", "replace") if isinstance(theirs, bytes) else None
    return results


# --------------------------------------------------------------------------- open_server()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pending(addr, n: int, limit: float,
             listener: socket.socket | None = None) -> tuple[int, list[socket.socket]]:
    """Connect n clients at once without anyone accepting: how many complete in time. Given
    the `listener`, stop as soon as its accept queue is full (Linux: no more will come in;
    the kernel takes a loopback connection within the connect() call)."""
    sel = selectors.DefaultSelector()
    clients = []
    for _ in range(n):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect(addr)
        except BlockingIOError:
            pass
        clients.append(c)
        sel.register(c, selectors.EVENT_WRITE)
    connected = 0
    deadline = time.monotonic() + limit
    full = listener is not None and _queue_full(listener)
    while sel.get_map() and time.monotonic() < deadline:
        # Once the queue is full, only handshakes already under way can still complete:
        # collect what is there without waiting.
        for key, _ in sel.select(0 if full else
                                 min(0.01, max(0.0, deadline - time.monotonic()))):
            sel.unregister(key.fileobj)
            connected += key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
        if full:
            break
        full = listener is not None and _queue_full(listener)
    sel.close()
    return connected, clients


def open_server_checks(n_pending: int, backlog: int, limit: float) -> dict:
    """Defaults, a listening socket, SO_REUSEADDR, ephemeral and given ports, the backlog."""
    import echo_server

    out: dict = {}
    s = echo_server.open_server()
    out["type"] = type(s).__name__
    if not is_a(s, socket.socket):
        try:
            s.close()
        except Exception:  # noqa: BLE001
            pass
        return out
    with s:
        out["family"] = s.family == socket.AF_INET
        out["stream"] = s.type == socket.SOCK_STREAM
        host, port = s.getsockname()[:2]
        out["address"] = f"{host}:{port}"
        out["reuse"] = bool(s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR))
        out["listening"] = bool(s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)) \
            if hasattr(socket, "SO_ACCEPTCONN") else None
        try:
            with socket.create_connection((host, port), timeout=limit) as c:
                s.settimeout(limit)
                conn, _ = s.accept()
                with conn:
                    c.sendall(b"hi")
                    out["accepts"] = conn.recv(2) == b"hi"
        except OSError as e:
            out["accepts"] = f"{type(e).__name__}: {e}"

    s = echo_server.open_server("127.0.0.1", 0, backlog)
    with s:
        connected, clients = _pending(s.getsockname(), n_pending, 0.5)
        out["pending"] = connected
        for c in clients:
            c.close()
    out["small_backlog"] = _small_backlog(echo_server.open_server, limit)

    port = _free_port()
    out["given_port"] = port
    try:
        s = echo_server.open_server("127.0.0.1", port, 8)
        with s:
            out["got_port"] = s.getsockname()[1]
            # The server closes its end first: that end of the connection waits in
            # TIME_WAIT on `port`, so binding the port again needs SO_REUSEADDR.
            with socket.create_connection(("127.0.0.1", port), timeout=limit) as c:
                s.settimeout(limit)
                conn, _ = s.accept()
                conn.close()
                _read(c, bytearray(), None, limit)
    except OSError as e:
        out["got_port"] = f"{type(e).__name__}: {e}"
    try:
        echo_server.open_server("127.0.0.1", port, 8).close()
        out["rebind"] = "ok"
    except OSError as e:
        out["rebind"] = f"{type(e).__name__}: {e}"
    out["busy"] = _busy_port(echo_server.open_server)
    return out


SMALL_BACKLOG, SMALL_CLIENTS = 2, 20


def _small_backlog(open_server, limit: float) -> int | None:
    """open_server(backlog=SMALL_BACKLOG), SMALL_CLIENTS clients connecting, nobody
    accepting: how many connections its queue took (counted by accepting them afterwards,
    the server's own count). Linux queues backlog + 1 and drops the others' SYNs; a
    listen() that ignores `backlog` queues them all. The clients are waited for until every
    one is connected or the queue is full (the kernel says so), min(limit, 0.5) s at most.
    Linux only (None elsewhere)."""
    if not sys.platform.startswith("linux"):
        return None
    s = open_server("127.0.0.1", 0, SMALL_BACKLOG)
    with s:
        _, clients = _pending(s.getsockname(), SMALL_CLIENTS, min(limit, 0.5), listener=s)
        s.setblocking(False)
        queued = 0
        while queued < SMALL_CLIENTS:
            try:
                conn, _ = s.accept()
            except OSError:  # BlockingIOError: the queue is empty
                break
            conn.close()
            queued += 1
        for c in clients:
            c.close()
    return queued


def _busy_port(open_server) -> str:
    """open_server() on a port another server is listening on: bind must fail (OSError).
    Not asked on Windows, where SO_REUSEADDR lets a second socket take a port in use."""
    if sys.platform == "win32":
        return "raised"
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen(1)
        try:
            s = open_server("127.0.0.1", other.getsockname()[1], 8)
        except OSError:
            return "raised"
        with contextlib.suppress(Exception):
            s.close()
        return f"returned a {type(s).__name__}"


# -------------------------------------------------------------------------------- serve()


class _Serve:
    """The student's serve(server, stop) in a thread of the grader, and when it returned."""

    def __init__(self):
        self.server = _listener()
        self.addr = self.server.getsockname()
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.ended: float | None = None
        self.done = threading.Event()
        # Not a daemon: threads serve() starts inherit that, unless it says daemon=True.
        self.thread = threading.Thread(target=self._main, name="grader-serve", daemon=False)
        _OWN.add(self.thread)
        self.thread.start()

    def _main(self) -> None:
        import echo_server

        try:
            echo_server.serve(self.server, self.stop)
        except BaseException as e:  # noqa: BLE001 - reported to the student
            self.error = e
        self.ended = time.monotonic()
        self.done.set()

    def poke(self) -> None:
        """Connect and leave at once: wakes an accept() that waits without a timeout."""
        try:
            socket.create_connection(self.addr, timeout=1).close()
        except OSError:
            pass

    def finish(self) -> bool:
        """After a stop that did not work: close the server for good (the student's thread
        may stay stuck; the harness kills the child). Returns whether it was still open."""
        was_open = self.server.fileno() != -1
        _shutdown(self.server)
        _close(self.server)
        return was_open

    def error_text(self) -> str | None:
        return _describe(self.error)


class _Lateness(threading.Thread):
    """Measures how late 10 ms sleeps wake up: how loaded the machine is right now."""

    def __init__(self):
        super().__init__(name="grader-lateness", daemon=True)
        _OWN.add(self)
        self.worst = 0.0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            t = time.monotonic()
            time.sleep(0.01)
            self.worst = max(self.worst, time.monotonic() - t - 0.01)


def _stop_and_time(run: _Serve, limit: float) -> dict:
    """Set stop, and time how long serve() takes to return."""
    ticker = _Lateness()
    ticker.start()
    time.sleep(0.005)
    set_at = time.monotonic()
    run.stop.set()
    returned = run.done.wait(limit)
    ticker.halt.set()
    ticker.join()
    return {"returned": returned,
            "elapsed": round(run.ended - set_at, 3) if returned else None,
            "lateness": round(ticker.worst, 3)}


def _lines_for(rng: random.Random, n_clients: int, n_lines: int):
    letters = string.ascii_letters + string.digits + " "
    return [[f"client {c:02d} line {i:02d} {''.join(rng.choices(letters, k=rng.randint(0, 40)))}"
             .encode() for i in range(n_lines)] for c in range(n_clients)]


class _Client:
    """One of the many clients: sends its lines in chunks cut at random places, sending the
    next chunk when every complete line sent so far has its reply."""

    def __init__(self, sock, lines, rng):
        self.sock, self.lines = sock, lines
        stream = b"".join(line + b"\n" for line in lines)
        cuts = sorted(rng.sample(range(1, len(stream)), 4))
        self.chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        self.next = 0
        self.lines_sent = 0
        self.replies = 0
        self.buf = b""
        self.status = "waiting"  # one of STATUSES, or "error: <exception type>"
        self.wrong = None

    def advance(self) -> None:
        while self.next < len(self.chunks) and self.replies >= self.lines_sent:
            self.sock.sendall(self.chunks[self.next])
            self.lines_sent += self.chunks[self.next].count(b"\n")
            self.next += 1
        if self.replies == len(self.lines):
            self.status = "done"

    def feed(self, data: bytes) -> None:
        self.buf += data
        *complete, self.buf = self.buf.split(b"\n")
        for reply in complete:
            want = self.lines[self.replies] + SUFFIX if self.replies < len(self.lines) else b""
            if reply != want:
                self.status = "wrong"
                self.wrong = {"line": self.replies, "sent": want[:-len(SUFFIX)].decode(),
                              "got": reply[:120].decode("utf-8", "replace"),
                              "want": want.decode()}
                return
            self.replies += 1
        self.advance()


LOOK = 0.05  # seconds of one look of _exchange() at the clients' sockets


def _exchange(clients: list[_Client], stall: float, limit: float) -> None:
    """Drive every client with one selector and ONE shared deadline (no per-client timeouts):
    stop when all are done, nothing arrived in looks of `stall` s in all, or after `limit` s.

    Looks, not the clock: the crowd runs in the grader's process (crowd_exchange), beside a
    serve() whose threads may keep a core busy (a talk() polling recv(), which
    test_talk_never_busy_waits judges), so on a loaded machine a gap of `stall` s between two
    replies is no stall: each look that found nothing counts LOOK s, however long this thread
    then waited for a CPU. On a quiet machine looks and the clock agree."""
    sel = selectors.DefaultSelector()
    for c in clients:
        try:
            c.advance()
        except OSError as e:
            c.status = f"error: {type(e).__name__}"
        if c.status == "waiting":
            sel.register(c.sock, selectors.EVENT_READ, c)
    start, empty = time.monotonic(), 0
    while sel.get_map():
        if empty * LOOK > stall or time.monotonic() - start > limit:
            break
        ready = sel.select(LOOK)
        empty += 1
        for key, _ in ready:
            c = key.data
            try:
                data = c.sock.recv(65536)
                if data:
                    empty = 0
                    c.feed(data)
                else:
                    c.status = "closed"
            except OSError as e:
                c.status = f"error: {type(e).__name__}"
            if c.status != "waiting":
                sel.unregister(c.sock)
    sel.close()


def _connect(addr, limit: float) -> socket.socket | None:
    """A blocking client connected to `addr`, or None if that failed."""
    try:
        sock = socket.create_connection(addr, timeout=limit)
    except OSError:
        return None
    sock.settimeout(None)
    return sock


_OWN: set[threading.Thread] = set()  # the threads this scenario started itself


def _student_threads(before: set) -> list[threading.Thread]:
    """Threads alive now that neither were there before nor are the scenario's own: told
    apart by identity, never by name (student code may call its threads anything)."""
    return [t for t in threading.enumerate()
            if t not in before and t.is_alive() and t not in _OWN]


def _in_talk(thread: threading.Thread) -> bool:
    """Whether `thread` is running the student's talk() right now."""
    import echo_server

    frame = sys._current_frames().get(thread.ident)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "talk" and code.co_filename == echo_server.__file__:
            return True
        frame = frame.f_back
    return False


def crowd_exchange(port: int, spinning: bool, n_clients: int, n_lines: int, seed: int,
                   stall: float, limit: float) -> tuple[dict, list[socket.socket]]:
    """Phase 2's crowd, run by the grader's desk (graders/desk.py's Crowd) in the grader's
    own process: n clients connect to serve()'s port and exchange n_lines each. Returns what
    the clients saw, and their sockets, which stay open until the scenario says "leave"."""
    rng = random.Random(seed)
    deadline = time.monotonic() + limit
    clients = []
    for lines in _lines_for(rng, n_clients, n_lines):
        sock = _connect(("127.0.0.1", port), max(0.1, deadline - time.monotonic()))
        if sock is not None:
            clients.append(_Client(sock, lines, rng))
    out: dict = {"refused": n_clients - len(clients)}
    started = time.monotonic()
    _exchange(clients, stall, (1 if spinning else 10) * limit)
    out["exchange_seconds"] = round(time.monotonic() - started, 3)
    out["statuses"] = {s: sum(c.status == s for c in clients)
                       for s in {c.status for c in clients}}
    out["replies"] = sum(c.replies for c in clients)
    out["wrong"] = next((dict(c.wrong, client=i) for i, c in enumerate(clients) if c.wrong),
                        None)
    return out, [c.sock for c in clients]


def serve_checks(address, limit: float) -> dict:
    """Phase 1: stop serve() while a client is connected and idle, and time it.
    Phase 2: a silent client holds a connection while the grader's crowd (clients in the
    grader's own process, driven by the desk at `address`: crowd_exchange) exchanges lines
    with it; then stop, every client leaves, and the handler threads must end."""
    before = set(threading.enumerate())
    out: dict = {}

    # ---- phase 1: how fast serve() returns once stop is set
    run1 = _Serve()
    idle = _connect(run1.addr, limit)
    ping = None
    if idle is not None:
        try:
            idle.sendall(b"ping\n")
            ping = _read_line(idle, limit, run1.done.is_set)
        except OSError:
            pass
    out["ping"] = None if ping is None else ping.decode("utf-8", "replace")
    # Stop right after an accept: serve() is back in a fresh accept() wait, so the time
    # measured is its whole accept timeout.
    out["stop1"] = _stop_and_time(run1, limit)
    if not out["stop1"]["returned"]:
        run1.poke()  # wakes an accept() that has no timeout
        out["stop1"]["after_poke"] = run1.done.wait(limit)
        if not run1.done.is_set() and idle is not None:
            _close(idle)  # a serve() that runs talk() inline is stuck in it
            run1.poke()
            out["stop1"]["after_idle_left"] = run1.done.wait(limit)
    out["stop1"]["server_closed"] = run1.server.fileno() == -1
    out["stop1"]["error"] = run1.error_text()
    if isinstance(run1.error, NotImplementedError):
        raise run1.error
    run1.finish()

    # ---- phase 2: many clients at once while one stays silent
    run2 = _Serve()
    silent = _connect(run2.addr, limit)
    reply = None
    if silent is not None:
        try:
            silent.sendall(b"I will stay silent now\n")
            reply = _read_line(silent, limit, run2.done.is_set)
        except OSError:
            pass
    out["silent_reply"] = None if reply is None else reply.decode("utf-8", "replace")
    # With the one client silent, serve()'s threads should all block: spinning ones share the
    # interpreter lock with this process's clients, and how many clients they then let through
    # in time depends on the machine's load (tests judge it first, so the score does not).
    out["silent_share"] = _runnable_share(_student_threads(before)) if reply else None
    spinning = (out["silent_share"] or 0) > SPINS  # judged by that alone: no long exchange
    # the crowd's clients, statuses and replies are the desk's (crowd_exchange); it answers
    # once they are done, and keeps them connected until "leave"
    ask_desk(address, "call", ["exchange", run2.addr[1], spinning], 12 * limit)
    handlers = [t for t in _student_threads(before) if _in_talk(t)]
    out["handlers"] = len(handlers)
    out["not_daemon"] = [t.name for t in handlers if not t.daemon][:5]
    out["n_not_daemon"] = sum(not t.daemon for t in handlers)

    out["stop2"] = _stop_and_time(run2, limit)
    ask_desk(address, "call", ["leave"])
    for sock in (silent, idle):
        if sock is not None:
            _close(sock)
    if not run2.done.is_set():  # a serve() stuck in a talk() of its own may get out now
        run2.poke()
        out["stop2"]["after_clients_left"] = run2.done.wait(limit)
    out["stop2"]["server_closed"] = run2.server.fileno() == -1
    out["stop2"]["error"] = run2.error_text()
    run2.finish()

    # ---- every client has left: the handler threads must end (each joined: no polling)
    deadline = time.monotonic() + limit
    while (left := _student_threads(before)) and time.monotonic() < deadline:
        for t in left:
            t.join(max(0.0, deadline - time.monotonic()))
    left = _student_threads(before)
    in_talk = [t for t in left if _in_talk(t)]
    out["left_threads"] = len(left)
    out["left_in_talk"] = len(in_talk)
    out["left_names"] = [t.name for t in left][:3]
    out["left_cpu"] = _cpu_used(in_talk[0]) if in_talk else None
    return out


# --------------------------------------------------------------------------------- chat()


_HELD: dict[int, list[socket.socket]] = {}  # port -> the sockets that connected to it
_hook: list = []


def _audit(event: str, args: tuple) -> None:
    """Audit hook: remember each socket that connects to a port in _HELD."""
    if event != "socket.connect":
        return
    try:
        held = _HELD.get(args[1][1])
        if held is not None and isinstance(args[0], socket.socket):
            held.append(args[0])
    except Exception:  # noqa: BLE001 - an audit hook must never raise
        pass


def _hold(port: int) -> list[socket.socket]:
    """From now on, keep every socket that connects to `port` alive, to see afterwards
    whether chat() closed it: a socket that chat() leaves open would otherwise be closed by
    the garbage collector as chat() returns, and the server could not tell the difference."""
    if not _hook:
        sys.addaudithook(_audit)
        _hook.append(_audit)
    return _HELD.setdefault(port, [])


def _left_open(held: list[socket.socket], limit: float) -> int:
    """How many of `held` are still open, waiting up to `limit` s for them to close."""
    deadline = time.monotonic() + limit
    while any(s.fileno() != -1 for s in held) and time.monotonic() < deadline:
        time.sleep(0.01)
    return sum(s.fileno() != -1 for s in held)


class EchoServer:
    """The grader's own echo server for chat(): records every byte it receives, answers each
    line with line + SUFFIX + newline, and sends reply number `split` in two halves. For
    chat_checks it runs in the grader's process (graders/desk.py's Peer), so what chat() sent
    and whether it closed its connection are seen from the other end of the socket.
    mute: it never answers. cut: reply number `cut` gets only its first 3 bytes, then the
    server closes its sending side (the client reads the end of the stream) and reads on
    until the client closes."""

    def __init__(self, split: int = -1, mute: bool = False, cut: int = -1):
        self.listener = _listener()
        self.listener.settimeout(0.02)
        self.port = self.listener.getsockname()[1]
        self.split, self.mute, self.cut = split, mute, cut
        self.replies = 0
        self.received: list[bytearray] = []
        self.ended: list[threading.Event] = []
        self.conns: list[socket.socket] = []
        self.halt = threading.Event()
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self) -> None:
        while not self.halt.is_set():
            try:
                conn, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            conn.settimeout(None)
            got, ended = bytearray(), threading.Event()
            self.received.append(got)
            self.ended.append(ended)
            self.conns.append(conn)
            t = threading.Thread(target=self._handle, args=(conn, got, ended), daemon=True)
            self.threads.append(t)
            t.start()
        self.listener.close()

    def _handle(self, conn: socket.socket, got: bytearray, ended: threading.Event) -> None:
        buf = b""
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                got += data
                buf += data
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    reply = line + SUFFIX + b"\n"
                    if self.mute or self.replies > self.cut >= 0:
                        continue
                    if self.replies == self.cut:
                        conn.sendall(reply[:3])
                        conn.shutdown(socket.SHUT_WR)
                    elif self.replies == self.split:
                        conn.sendall(reply[:3])
                        time.sleep(0.05)
                        conn.sendall(reply[3:])
                    else:
                        conn.sendall(reply)
                    self.replies += 1
        except OSError:
            pass
        finally:
            ended.set()
            conn.close()

    def hang_up(self) -> None:
        for conn in list(self.conns):
            _shutdown(conn)

    def close(self) -> None:
        self.halt.set()
        _shutdown(self.listener)  # Linux: wakes the accept() at once, not after its 20 ms
        self.hang_up()
        for t in self.threads:
            t.join(2)


MESSAGES = ["hello", "  two words  ", "", "   ", "\t", "你好, 世界", " x ", "last one"]


def chat_checks(address, port: int, limit: float) -> dict:
    """chat() against the grader's echo server, which runs in the grader's own process on
    `port` and is told through the desk at `address` when chat() returned (it then counts the
    connections still open) or must hang up; the desk adds what it received. Here: what
    chat() returned, and whether it closed its socket (as this process's audit hook saw)."""
    import echo_server

    held = _hold(port)
    box: dict = {}

    def call():
        try:
            box["value"] = echo_server.chat("127.0.0.1", port, iter(MESSAGES))
        except BaseException as e:  # noqa: BLE001 - reported to the student
            box["error"] = e

    t = threading.Thread(target=call, daemon=True)
    t.start()
    t.join(limit)
    out: dict = {"hung": t.is_alive()}
    if t.is_alive():
        ask_desk(address, "call", ["hang up"])  # the server's side closed: chat() gets out
        t.join(limit)
    error = box.get("error")
    if isinstance(error, NotImplementedError):
        raise error
    out["error"] = _describe(error)
    value = box.get("value")
    out["type"] = type(value).__name__
    if isinstance(value, list | tuple):
        out["replies"] = [v if type(v) is str else f"<{type(v).__name__}> {v!r}"[:200]
                          for v in value]
    else:
        out["replies"] = repr(value)[:200]
    ask_desk(address, "call", ["returned"], 2 * limit)  # the server counts what is still open
    out["unclosed"] = _left_open(held, 0) if not out["hung"] else None
    return out


class _Chat:
    """The student's chat() in a thread of its own, timed: wall time and the CPU time of
    that thread while in chat()."""

    def __init__(self, port: int, messages: list[str], timeout: float):
        self.args = ("127.0.0.1", port, iter(messages))
        self.timeout = timeout
        self.value = self.error = None
        self.elapsed = self.cpu = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._main, name="chat", daemon=True)
        self.thread.start()

    def _main(self) -> None:
        import echo_server

        cpu, start = time.thread_time(), time.monotonic()
        try:
            self.value = echo_server.chat(*self.args, timeout=self.timeout)
        except BaseException as e:  # noqa: BLE001 - reported to the student
            self.error = e
        self.elapsed = round(time.monotonic() - start, 3)
        self.cpu = round(time.thread_time() - cpu, 3)
        self.done.set()

    def report(self, wait: float) -> dict:
        """Wait up to `wait` s for chat() to end: how it ended (or its CPU use if not)."""
        returned = self.done.wait(wait)
        out = {"returned": returned, "elapsed": self.elapsed, "cpu": self.cpu,
               "error": _describe(self.error), "os_error": isinstance(self.error, OSError),
               "value": plain(self.value), "cpu_stuck": None}
        if not returned:
            out["cpu_stuck"] = _cpu_used(self.thread)
        if isinstance(self.error, NotImplementedError):
            raise self.error
        return out


def _known_full(listener: socket.socket, queued: int, limit: float = 0.3) -> bool:
    """Whether the kernel says `listener`'s accept queue is full, once the `queued` clients
    that connected are in it (waited for up to `limit` s: on loopback they are in by the
    time connect() returns, unless the machine is busy); False when it does not say."""
    deadline = time.monotonic() + limit
    while (queue := _accept_queue(listener)) is not None:
        if queue[0] >= queued:
            return queue[0] > queue[1]
        if time.monotonic() >= deadline:
            break
        time.sleep(0.002)
    return False


def _chat_no_accept(timeout: float, wait: float) -> dict:
    """chat() to a server whose queue is full: its SYN is dropped, connect() never ends."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        # One client at a time until one cannot connect: the queue is full, and stays full
        # (nobody accepts), so the SYN of chat()'s connect() is dropped too (Linux).
        # Where the kernel tells that the queue is full (Linux), that is enough: no filler
        # has to wait out a dropped SYN.
        full = False
        while not full and len(fillers) < 5:
            fillers.append(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            fillers[-1].settimeout(0.3)
            try:
                fillers[-1].connect(("127.0.0.1", port))
            except OSError:
                full = True
            full = full or _known_full(listener, len(fillers))
        if not full:  # this OS queues them all: no way here to make a connect() hang
            return {"skipped": True}
        held = _hold(port)
        run = _Chat(port, ["hello"], timeout)
        out = run.report(wait)
        out["unclosed"] = _left_open(held, 0.5) if out["returned"] else None
        return out
    finally:
        for f in fillers:
            _close(f)
        _close(listener)


def _chat_no_reply(timeout: float, wait: float) -> dict:
    """chat() to a server that accepts and reads every line but never answers."""
    srv = EchoServer(mute=True)
    held = _hold(srv.port)
    try:
        run = _Chat(srv.port, ["hello", "are you there?"], timeout)
        out = run.report(wait)
        out["sent"] = b"".join(srv.received).decode("utf-8", "replace")[:200]
        if out["returned"]:
            out["unclosed"] = _left_open(held, 0.5)
        else:
            srv.hang_up()  # the end of the stream lets a chat() stuck in recv() out
            out["after_hang_up"] = run.done.wait(wait)
        return out
    finally:
        srv.close()


def _chat_cut(timeout: float, wait: float) -> dict:
    """chat() to a server that answers the first line, sends 3 bytes of the second reply,
    then closes its side: recv() returns b'' at once, and for ever."""
    srv = EchoServer(cut=1)
    held = _hold(srv.port)
    try:
        run = _Chat(srv.port, ["first", "second"], timeout)
        out = run.report(wait)
        out["unclosed"] = _left_open(held, 0.5) if out["returned"] else None
        return out
    finally:
        srv.close()


def chat_faults(timeout: float, wait: float, cut_timeout: float) -> dict:
    """chat() when things go wrong: a server that never accepts and one that never answers
    (chat(..., timeout) must raise within about `timeout` s; both at once, each chat() in a
    thread of its own with its own server, so their timeouts run out together), then one
    that closes in the middle of a reply (chat() must raise or return, not loop; last: a
    chat() that spins there is left spinning, the harness ends the child). `wait`: how long
    each case waits for chat() to end."""
    out: dict = {}
    errors: list[BaseException] = []

    def run(name, case, t):
        try:
            out[name] = case(t, wait)
        except BaseException as e:  # noqa: BLE001 - raised again below, in order
            errors.append(e)

    together = [threading.Thread(target=run, args=(name, case, timeout), daemon=True)
                for name, case in (("no_accept", _chat_no_accept), ("no_reply", _chat_no_reply))]
    for t in together:
        t.start()
    for t in together:
        t.join()
    if errors:
        raise errors[0]
    out["cut"] = _chat_cut(cut_timeout, wait)
    return {name: out[name] for name in ("no_accept", "no_reply", "cut")}


# ----------------------------------------------------------------- the client side, together


def client_side(address, port: int, n_pending: int, backlog: int, limit: float) -> dict:
    """open_server_checks and chat_checks in one child (they are independent): each part is
    its data, or {"todo": ...} / {"raised": ...} when that function is a stub or raised.
    chat() talks to the grader's echo server on `port`, told through the desk at `address`."""
    out = {}
    for name, part, args in (("open_server", open_server_checks, (n_pending, backlog, limit)),
                             ("chat", chat_checks, (address, port, limit))):
        try:
            out[name] = part(*args)
        except NotImplementedError as e:
            out[name] = {"todo": str(e) or "NotImplementedError"}
        except Exception as e:  # noqa: BLE001 - reported to the student
            out[name] = {"raised": _describe(e)}
    return out
