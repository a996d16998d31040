"""ALTERNATIVE: bytearray buffers scanned with find(b"\\n"), select.select(), a handler list.

talk() and chat() keep a bytearray, remember how far they already looked for a newline
and cut lines out with find(); serve() waits for clients with select.select() and a
timeout on a non-blocking listening socket, and keeps its handler threads in a list
(pruned as they end, never joined); open_server() is written out step by step.
"""

import select
import socket
import threading
from collections.abc import Iterable

SUFFIX = b"jack, my_lover"

MAX_LINE = 64 * 1024
CHUNK = 4096
WAKE_EVERY = 0.1  # seconds between two looks at `stop` while nobody connects


def talk(sock: socket.socket) -> None:
    """Echo each complete line of the client on ``sock`` with SUFFIX; close it on return.

    Stops at end of stream, on a connection error (OSError) or on a line longer than
    MAX_LINE bytes. A partial last line is dropped.
    """
    buf = bytearray()
    scanned = 0  # buf[:scanned] holds no newline
    try:
        while True:
            data = sock.recv(CHUNK)  # blocking
            if data == b"":
                break
            buf += data
            start = 0
            while (end := buf.find(b"\n", scanned)) != -1:
                if end - start > MAX_LINE:
                    return
                sock.sendall(bytes(buf[start:end]) + SUFFIX + b"\n")
                start = scanned = end + 1
            del buf[:start]
            scanned = len(buf)
            if len(buf) > MAX_LINE:
                return  # no newline within MAX_LINE bytes: the line is too long
    except OSError:
        pass
    finally:
        sock.close()


def open_server(host: str = "127.0.0.1", port: int = 0, backlog: int = 128) -> socket.socket:
    """A TCP socket bound to (host, port), with SO_REUSEADDR, listening with ``backlog``."""
    # "" (every interface) is spelt None for getaddrinfo; the first address found is used.
    info = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                              flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = info[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def serve(server: socket.socket, stop: threading.Event) -> None:
    """Accept clients until ``stop`` is set; each one is served by talk() in a daemon
    thread. Returns within 0.5 s of stop being set, with ``server`` closed."""
    handlers: list[threading.Thread] = []
    try:
        server.setblocking(False)
        while not stop.is_set():
            readable, _, _ = select.select([server], [], [], WAKE_EVERY)
            if not readable:
                continue
            try:
                conn, peer = server.accept()
            except (BlockingIOError, ConnectionAbortedError):
                continue  # the client left between select() and accept()
            conn.setblocking(True)
            handler = threading.Thread(target=talk, args=(conn,), daemon=True,
                                       name=f"echo-handler-{peer[0]}:{peer[1]}")
            handler.start()
            handlers = [t for t in handlers if t.is_alive()]
            handlers.append(handler)
    finally:
        server.close()


def chat(host: str, port: int, messages: Iterable[str], timeout: float = 5.0) -> list[str]:
    """Client: send each stripped non-empty message as a line, return the reply lines."""
    out: list[str] = []
    pending = bytearray()
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        for message in messages:
            line = message.strip()
            if line == "":
                continue
            sock.sendall(line.encode("utf-8") + b"\n")
            while (end := pending.find(b"\n")) < 0:
                data = sock.recv(CHUNK)
                if not data:
                    raise ConnectionError("connection closed before the reply was complete")
                pending += data
            out.append(pending[:end].decode("utf-8"))
            del pending[:end + 1]
    finally:
        sock.close()
    return out
