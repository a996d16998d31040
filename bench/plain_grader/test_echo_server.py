import socket
import threading
import time

import echo_server
import pytest

SUFFIX = b"jack, my_lover"


@pytest.fixture
def server():
    s = echo_server.open_server()
    stop = threading.Event()
    t = threading.Thread(target=echo_server.serve, args=(s, stop), daemon=True)
    t.start()
    yield s.getsockname()[:2], stop, t, s
    stop.set()
    t.join(1)


def read_lines(sock, n) -> list[bytes]:
    buf = b""
    sock.settimeout(3)
    while buf.count(b"\n") < n:
        data = sock.recv(65536)
        if not data:
            break
        buf += data
    return buf.split(b"\n")[:n]


def test_open_server():
    with echo_server.open_server() as s:
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)


def test_serve_echoes_split_and_batched_lines(server):
    addr, *_ = server
    with socket.create_connection(addr, timeout=3) as c:
        c.sendall(b"hello\nwor")
        time.sleep(0.02)
        c.sendall(b"ld\n")
        assert read_lines(c, 2) == [b"hello" + SUFFIX, b"world" + SUFFIX]


def test_silent_client_does_not_block_others(server):
    addr, *_ = server
    with socket.create_connection(addr, timeout=3), \
            socket.create_connection(addr, timeout=3) as other:
        other.sendall(b"hi\n")
        assert read_lines(other, 1) == [b"hi" + SUFFIX]


def test_serve_stops_and_closes(server):
    _addr, stop, t, s = server
    stop.set()
    t.join(1.0)
    assert not t.is_alive()
    assert s.fileno() == -1


def test_chat(server):
    (host, port), *_ = server
    replies = echo_server.chat(host, port, ["hi", "   ", " there "])
    assert replies == ["hi" + SUFFIX.decode(), "there" + SUFFIX.decode()]


def test_chat_times_out():
    with socket.create_server(("127.0.0.1", 0)) as mute:
        host, port = mute.getsockname()[:2]
        started = time.monotonic()
        with pytest.raises(OSError):
            echo_server.chat(host, port, ["hello"], timeout=0.3)
        assert time.monotonic() - started < 2


def test_talk_returns_when_client_closes():
    a, b = socket.socketpair()
    t = threading.Thread(target=echo_server.talk, args=(b,), daemon=True)
    t.start()
    a.sendall(b"x\n")
    assert read_lines(a, 1) == [b"x" + SUFFIX]
    a.close()
    t.join(2)
    assert not t.is_alive() and b.fileno() == -1
