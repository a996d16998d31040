import threading

import threads


def test_start_thread():
    go = threading.Event()
    t = threads.start_thread(go.wait, 5)
    assert isinstance(t, threading.Thread) and t.is_alive() and not t.daemon
    go.set()
    t.join(2)


def test_start_daemon():
    go = threading.Event()
    t = threads.start_daemon(go.wait, 5)
    assert t.is_alive() and t.daemon
    go.set()
    t.join(2)


def test_worker():
    ok = threads.Worker("w1", lambda: 42)
    ok.start()
    ok.join(2)
    assert (ok.name, ok.result, ok.error) == ("w1", 42, None)

    def fails():
        raise KeyError("job")

    bad = threads.Worker("w2", fails)
    bad.start()
    bad.join(2)
    assert bad.result is None and isinstance(bad.error, KeyError)
