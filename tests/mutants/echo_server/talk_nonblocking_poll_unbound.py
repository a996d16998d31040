"""MUTANT: talk() busy-polls a non-blocking socket with socket.socket.recv(sock, n), unbound.

Rule: echo_server.talk.no-busy-wait (docs/RULES.md).

A threaded TCP echo server and its client (course notes, section 12: tcp服务端实行多线程并发).

The server accepts clients in a loop and hands each connection to ``talk`` in
its own thread, so one slow or silent client never holds up the others.

TCP carries a stream of bytes, not messages: one ``send`` may arrive split
over several ``recv`` calls, and several sends may arrive in one. So the
protocol here is made of lines ending in ``b"\\n"``, and both sides keep a
buffer and cut complete lines out of it. For each line the server sends back
the line's content, then ``SUFFIX``, then ``b"\\n"``.

Unlike the seed, the handler stops when ``recv`` returns ``b""`` (the client
closed the connection) instead of spinning on it forever, and the server can
be stopped from another thread with a ``threading.Event``.
"""

import socket
import threading
from collections.abc import Iterable

CAUGHT_BY = "test_talk_never_busy_waits"

SUFFIX = b"jack, my_lover"

# The longest line (in bytes, without the newline) the server accepts from a client.
MAX_LINE = 64 * 1024

# How long one accept() waits before serve() looks at the stop event again.
_ACCEPT_TIMEOUT = 0.1


def talk(sock: socket.socket) -> None:
    """Serve one connected client on the blocking socket ``sock``; close it on return.

    Receive bytes, buffering them, and for each complete line (ending in
    ``b"\\n"``) send back the line's content followed by ``SUFFIX`` and
    ``b"\\n"``. A line may arrive split over several ``recv`` calls, and several
    lines may arrive in one. Return, with ``sock`` closed, when the client
    closes the connection (``recv`` returns ``b""``), when the connection fails
    (reset, broken pipe: any ``OSError``), or when the client sends a line
    longer than ``MAX_LINE`` (64 KiB). A partial last line at close is dropped.
    Never busy-waits: it blocks in ``recv``.
    """
    buffered = b""
    sock.setblocking(False)  # BUG: recv() never waits, so the loop below polls
    try:
        while True:
            try:
                # not through the object: a counter of sock.recv calls misses it
                data = socket.socket.recv(sock, 65536)
            except BlockingIOError:
                continue  # nothing yet: ask again at once
            if not data:
                return  # the client closed its side
            buffered += data
            # Everything before the last b"\n" is complete lines; the rest waits.
            *lines, buffered = buffered.split(b"\n")
            for line in lines:
                if len(line) > MAX_LINE:
                    return
                sock.sendall(line + SUFFIX + b"\n")
            if len(buffered) > MAX_LINE:
                return  # a line too long is on its way: do not buffer it forever
    except OSError:  # ConnectionResetError, BrokenPipeError, ...
        return
    finally:
        sock.close()


def open_server(host: str = "127.0.0.1", port: int = 0, backlog: int = 128) -> socket.socket:
    """Return a TCP socket bound to ``(host, port)`` and listening with ``backlog``.

    ``SO_REUSEADDR`` is set, so a restarted server can bind its port again at
    once. ``port=0`` lets the OS choose a free port (read it with
    ``getsockname()``). A host containing ``":"`` is taken as IPv6.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = socket.socket(family, socket.SOCK_STREAM)
    try:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((host, port))
        server.listen(backlog)  # the seed's "half-connection pool"
    except BaseException:
        server.close()
        raise
    return server


def serve(server: socket.socket, stop: threading.Event) -> None:
    """Accept clients on the listening socket ``server`` until ``stop`` is set.

    Each accepted client is handled by ``talk`` in its own daemon thread, so a
    slow or silent client never holds up the others (and never keeps the
    process alive). Returns within 0.5 s of ``stop`` being set, with ``server``
    closed (also when it raises).
    """
    # accept() gives up every _ACCEPT_TIMEOUT seconds, so the loop sees `stop` in time.
    server.settimeout(_ACCEPT_TIMEOUT)
    try:
        while not stop.is_set():
            try:
                conn, address = server.accept()
            except (TimeoutError, ConnectionAbortedError):
                continue  # nobody came (or a client gave up before we accepted it)
            conn.settimeout(None)  # talk() relies on blocking recv
            handler = threading.Thread(
                target=talk, args=(conn,), name=f"talk-{address}", daemon=True
            )
            handler.start()
    finally:
        server.close()


def chat(host: str, port: int, messages: Iterable[str], timeout: float = 5.0) -> list[str]:
    """Talk to the server at ``(host, port)`` over one connection; return its replies.

    For each message, stripped of surrounding whitespace: skip it if empty (as
    the seed's client rejects empty input), else send it UTF-8 encoded as one
    line (followed by ``b"\\n"``) and read the reply line. Return the replies,
    decoded from UTF-8, without their newline, in order. ``timeout`` (seconds)
    applies to connecting and to every send and receive (``TimeoutError`` when
    it expires). Raises ``ConnectionError`` if the server closes the connection
    before a reply is complete. The socket is closed on return.
    """
    replies = []
    buffered = b""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        for message in messages:
            text = message.strip()
            if not text:
                continue
            sock.sendall(text.encode("utf-8") + b"\n")
            # A reply may come in pieces: read until a whole line is buffered.
            while b"\n" not in buffered:
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("the server closed the connection before replying")
                buffered += data
            line, _, buffered = buffered.partition(b"\n")  # keep any leftover bytes
            replies.append(line.decode("utf-8"))
    return replies
