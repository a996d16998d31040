"""ALTERNATIVE: a fixed MAX_LINE + 1 byte buffer filled by recv_into, a stop.wait() poll.

talk() receives into one preallocated buffer through a memoryview (a line too long is one
that fills it without a newline); serve() drains a non-blocking listening socket every
50 ms, sleeping in stop.wait() in between, and runs each client in a Thread subclass;
open_server() undoes itself with an ExitStack; chat() pulls reply lines from a generator.
"""

import contextlib
import socket
import threading
from collections.abc import Iterable, Iterator

SUFFIX = b"jack, my_lover"

MAX_LINE = 64 * 1024
TICK = 0.05  # seconds serve() sleeps (in stop.wait) between two rounds of accepts


def talk(sock: socket.socket) -> None:
    """Answer every complete line from the client with line + SUFFIX + newline.

    Returns with ``sock`` closed when the client closes or the connection fails, or when
    a line is longer than MAX_LINE bytes. An unfinished last line is dropped.
    """
    buf = bytearray(MAX_LINE + 1)  # room for the longest line and its newline
    view = memoryview(buf)
    filled = 0
    with sock:
        try:
            while filled < len(buf):  # a full buffer without a newline: line too long
                n = sock.recv_into(view[filled:])  # blocks until bytes come or the end
                if n == 0:
                    return
                start, first_new = 0, filled
                filled += n
                newline = buf.find(b"\n", first_new, filled)
                while newline != -1:
                    sock.sendall(bytes(view[start:newline]) + SUFFIX + b"\n")
                    start = newline + 1
                    newline = buf.find(b"\n", start, filled)
                if start:  # move the unfinished line to the front
                    rest = filled - start
                    buf[:rest] = buf[start:filled]
                    filled = rest
        except OSError:
            return


def open_server(host: str = "127.0.0.1", port: int = 0, backlog: int = 128) -> socket.socket:
    """Bound and listening TCP socket with SO_REUSEADDR (IPv6 when ``host`` has a ':')."""
    server = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                           socket.SOCK_STREAM)
    with contextlib.ExitStack() as on_error:
        on_error.callback(server.close)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((host, port))
        server.listen(backlog)
        on_error.pop_all()  # success: keep the socket open
    return server


class _Handler(threading.Thread):
    """A daemon thread that runs talk() on one accepted connection."""

    def __init__(self, conn: socket.socket, peer) -> None:
        super().__init__(name=f"client {peer[0]}:{peer[1]}", daemon=True)
        self.conn = conn

    def run(self) -> None:
        talk(self.conn)


def serve(server: socket.socket, stop: threading.Event) -> None:
    """Accept clients until ``stop`` is set, each served in its own daemon thread; return
    within 0.5 s of stop with ``server`` closed."""
    with server:
        server.setblocking(False)
        while not stop.wait(TICK):
            while not stop.is_set():  # accept everyone who is waiting
                try:
                    conn, peer = server.accept()
                except BlockingIOError:
                    break
                except ConnectionAbortedError:
                    continue
                conn.setblocking(True)  # an accepted socket may inherit non-blocking
                _Handler(conn, peer).start()


def _reply_lines(sock: socket.socket) -> Iterator[bytes]:
    """The lines the server sends on ``sock``, read only as far as needed."""
    pending = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from complete


def chat(host: str, port: int, messages: Iterable[str], timeout: float = 5.0) -> list[str]:
    """Send the stripped, non-empty messages as lines; return the decoded reply lines."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        incoming = _reply_lines(sock)
        replies = []
        for text in (m.strip() for m in messages):
            if text:
                sock.sendall(text.encode("utf-8") + b"\n")
                reply = next(incoming, None)
                if reply is None:
                    raise ConnectionError("the server hung up before its reply was complete")
                replies.append(reply.decode("utf-8"))
        return replies
