"""ALTERNATIVE: file objects (sock.makefile + readline(MAX_LINE + 1)), create_server, selectors.

talk() reads lines through a buffered binary file over the socket instead of cutting a
bytes buffer by hand; chat() uses a read/write file pair; open_server() uses
socket.create_server(); serve() waits for clients with a selector (0.1 s timeout) on a
non-blocking listening socket instead of a timeout on accept().
"""

import selectors
import socket
import threading
from collections.abc import Iterable

SUFFIX = b"jack, my_lover"

MAX_LINE = 64 * 1024  # the longest line accepted from a client, without its newline
_POLL = 0.1  # seconds serve() waits for a client before it looks at `stop` again


def talk(sock: socket.socket) -> None:
    """Serve one connected client on the blocking socket ``sock``; close it on return.

    Each complete line gets back its content + SUFFIX + b"\\n". Returns, with the socket
    closed, at end of stream, on any OSError, or on a line longer than MAX_LINE; a partial
    last line is dropped. readline() blocks in the socket's recv, never spins.
    """
    try:
        # Leaving the with-block closes the file first, then the socket: the socket is
        # only really closed once no file made from it is open.
        with sock, sock.makefile("rb") as reader:
            while True:
                # At most MAX_LINE content bytes plus the newline; without a newline at
                # the end this is either the end of the stream (a partial line, or
                # nothing) or a line too long: both end the conversation.
                line = reader.readline(MAX_LINE + 1)
                if not line.endswith(b"\n"):
                    return
                sock.sendall(line[:-1] + SUFFIX + b"\n")
    except OSError:  # reset, broken pipe, ...: the socket is closed by the with-block
        return


def open_server(host: str = "127.0.0.1", port: int = 0, backlog: int = 128) -> socket.socket:
    """Return a TCP socket bound to ``(host, port)``, listening with ``backlog``, with
    SO_REUSEADDR. A host containing ":" is taken as IPv6."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # create_server() sets SO_REUSEADDR before bind on POSIX, closes the socket and
    # re-raises if bind or listen fails.
    server = socket.create_server((host, port), family=family, backlog=backlog,
                                  reuse_port=False)
    if not server.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR):
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # not set on Windows
    return server


def _accept_pending(server: socket.socket) -> None:
    """Accept every client waiting on the non-blocking ``server``, one daemon thread each."""
    while True:
        try:
            conn, address = server.accept()
        except (BlockingIOError, InterruptedError):
            return  # the queue is empty
        except ConnectionAbortedError:
            continue  # a client gave up before we accepted it
        conn.setblocking(True)  # talk() relies on a blocking recv
        threading.Thread(target=talk, args=(conn,), name=f"talk-{address}",
                         daemon=True).start()


def serve(server: socket.socket, stop: threading.Event) -> None:
    """Accept clients on the listening ``server`` until ``stop`` is set, each handled by
    talk() in its own daemon thread. Returns within 0.5 s of stop, with server closed."""
    selector = selectors.DefaultSelector()
    try:
        server.setblocking(False)
        selector.register(server, selectors.EVENT_READ)
        while not stop.is_set():
            if selector.select(timeout=_POLL):
                _accept_pending(server)
    finally:
        selector.close()
        server.close()


def chat(host: str, port: int, messages: Iterable[str], timeout: float = 5.0) -> list[str]:
    """Send each stripped, non-empty message as a line over one connection and return the
    decoded reply lines. ``timeout`` applies to connecting and to every send and receive;
    ConnectionError if the server closes before a reply is complete."""
    replies = []
    with socket.create_connection((host, port), timeout=timeout) as sock, \
            sock.makefile("rwb") as stream:
        for message in messages:
            text = message.strip()
            if not text:
                continue
            stream.write(text.encode("utf-8") + b"\n")
            stream.flush()
            reply = stream.readline()
            if not reply.endswith(b"\n"):
                raise ConnectionError("the server closed the connection before replying")
            replies.append(reply[:-1].decode("utf-8"))
    return replies
