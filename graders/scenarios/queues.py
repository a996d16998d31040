"""Scenarios for queues.py: try_put() and drain() on the three kinds of queue (section 4).

Every student call runs in a daemon thread with a deadline, so a call that blocks is
reported ("hung") instead of holding the grading child until the harness timeout.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import queue
import threading
import time

KINDS = ("queue.Queue", "multiprocessing.Queue", "multiprocessing.JoinableQueue")
MP_KINDS = KINDS[1:]

# Items of several types; drain() must hand back equal items in the same order.
FIFO_ITEMS = ["first", None, ("tuple", 1), {"k": [1, 2]}, 2.5, "", b"bytes", *range(20), "last"]

SCALE = float(os.environ.get("GRADER_TIMEOUT_SCALE", "1"))  # as harness.SCALE
CALL_LIMIT = 3.0 * SCALE  # seconds a call may take beyond what it should before it counts as hung
TRY_PUT_LIMIT = 2.0 * SCALE  # seconds a try_put() may take before it counts as blocked


def _make(kind: str, maxsize: int = 0):
    if kind == "queue.Queue":
        return queue.Queue(maxsize)
    if kind == "multiprocessing.Queue":
        return multiprocessing.Queue(maxsize)
    return multiprocessing.JoinableQueue(maxsize)


def _start(func, *args, before=None) -> tuple[threading.Thread, dict]:
    """Call func(*args) in a daemon thread (after before(), if given); the box gets the result."""
    box: dict = {}

    def run():
        if before is not None:
            before()
        started = time.monotonic()
        try:
            box["value"] = func(*args)
        except BaseException as e:  # noqa: BLE001 - re-raised in the scenario's thread
            box["error"] = e
        box["seconds"] = time.monotonic() - started

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


def _finish(t: threading.Thread, box: dict, limit: float) -> dict:
    """Wait for a call started by _start; raise what it raised; describe what it returned."""
    t.join(limit)
    if t.is_alive():
        return {"hung": True}
    if "error" in box:
        raise box["error"]
    value = box["value"]
    out = {
        "hung": False,
        "seconds": box["seconds"],
        "type": type(value).__name__,
        "repr": repr(value)[:200],
    }
    if isinstance(value, list):
        out["items"] = [repr(x)[:100] for x in value]
    return out


# ---------------------------------------------------------------------------- try_put


def _try_put_on(queues, kind: str) -> dict:
    """A bounded queue (maxsize 2): two try_puts succeed, the third finds it full."""
    q = _make(kind, 2)
    returned = []
    for item in ("first", ("second", 2), "third"):
        t, box = _start(queues.try_put, q, item)
        t.join(TRY_PUT_LIMIT)
        if t.is_alive():
            q.get(timeout=5)  # make room so the blocked put can finish and its thread end
            t.join(5)
            return {"returned": returned, "hung": repr(item)}
        if "error" in box:
            raise box["error"]
        returned.append(repr(box["value"]))
    content = []
    try:
        for _ in range(2):  # a full queue holds 2 items
            content.append(repr(q.get(timeout=1)))
        q.put("marker", timeout=5)  # anything else in the queue comes before it
        for _ in range(5):
            item = q.get(timeout=5)
            if isinstance(item, str) and item == "marker":
                break
            content.append(repr(item))
    except queue.Empty:
        pass
    return {"returned": returned, "hung": None, "content": content}


def try_put_all() -> dict:
    """try_put() on a bounded queue of each kind: room, room, full."""
    import queues

    out = {}
    for kind in KINDS:
        out[kind] = _try_put_on(queues, kind)
        if out[kind]["hung"]:  # one blocking call is enough to report
            break
    return out


# ------------------------------------------------------------------------------ drain


def _task_done_calls(q, n: int) -> int:
    """How many of n task_done() calls succeed (the queue raises ValueError on one too many)."""
    for i in range(n):
        try:
            q.task_done()
        except ValueError:
            return i
    return n


def _put_all(q, items: list) -> None:
    for item in items:
        q.put(item)


def _filled(cases: list) -> list:
    """(kind, items) -> queues holding the items, every one of them visible to get() at once:
    on a multiprocessing queue an item put in this process reaches the pipe a moment later
    (its feeder thread), so they are put by a helper process, which flushes its feeder before
    it exits: once it is joined, all are there, on every run."""
    made = [_make(kind) for kind, _items in cases]
    helpers = []
    for q, (kind, items) in zip(made, cases, strict=True):
        if kind == "queue.Queue":
            _put_all(q, items)
        else:
            helpers.append(multiprocessing.Process(target=_put_all, args=(q, items)))
    for h in helpers:
        h.start()
    for h in helpers:
        h.join()
    return made


def drain_basics(fifo_timeout: float, empty_timeout: float) -> dict:
    """FIFO on each kind, [] from an empty queue of each kind, task_done left to the caller.

    The items are all visible before drain() is called (waiting for items in flight is
    another test's); all the drain() calls run at once, in threads, to keep it short."""
    import queues

    tasks = ("queue.Queue", "multiprocessing.JoinableQueue")
    full = _filled([(kind, FIFO_ITEMS) for kind in KINDS] + [(kind, ["a", "b", "c"])
                                                             for kind in tasks])
    calls = {}
    for kind, q in zip(KINDS, full, strict=False):
        calls[("fifo", kind)] = q, _start(queues.drain, q, fifo_timeout)
        q = _make(kind)
        calls[("empty", kind)] = q, _start(queues.drain, q, empty_timeout)
    for kind, q in zip(tasks, full[len(KINDS):], strict=True):
        calls[("tasks", kind)] = q, _start(queues.drain, q, fifo_timeout)
    out: dict = {"fifo": {}, "empty": {}, "tasks": {}}
    deadline = time.monotonic() + max(fifo_timeout, empty_timeout) + CALL_LIMIT
    for (case, kind), (q, (t, box)) in calls.items():
        seen = _finish(t, box, max(0.0, deadline - time.monotonic()))
        if case == "tasks" and not seen["hung"]:
            seen["task_done_ok"] = _task_done_calls(q, 3)
            joiner = threading.Thread(target=q.join, daemon=True)
            joiner.start()
            joiner.join(CALL_LIMIT)
            seen["join_returned"] = not joiner.is_alive()
        out[case][kind] = seen
    return out


class SlowPickle:
    """An item whose pickling takes `delay` s: put on a multiprocessing queue, it stays in
    flight (in the feeder thread) that long after put() returned. Arrives as a str."""

    def __init__(self, text: str, delay: float):
        self.text, self.delay = text, delay

    def __reduce__(self):
        time.sleep(self.delay)
        return (str, (self.text,))


def _produce(qs, ready, go, n: int, gap: float) -> None:
    """Producer (process or thread): once told to go, put n items on each queue, `gap` s apart."""
    ready.set()
    if not go.wait(10):
        return
    for i in range(n):
        if i:
            time.sleep(gap)
        for q in qs:
            q.put(f"item{i}")


def drain_in_flight(methods: list[str], n: int, gap: float, timeout: float,
                    pickle_delay: float) -> dict:
    """drain() on queues whose items are still on their way, all cases at once:

    - source "process": for each start method, one producer process (started with it) puts
      n items on a multiprocessing.Queue and a JoinableQueue, `gap` s apart, starting the
      moment drain() is called on them;
    - source "thread": the same on a queue.Queue, from a thread;
    - source "feeder": one item put on a multiprocessing queue just before drain(), which the
      queue's feeder thread takes `pickle_delay` s to send.

    The start method matters only for the grader's producers here (drain() starts no
    process), so all of them run in one grading child, side by side.
    """
    import queues

    setups = []  # (case, queue, what to do in drain()'s thread just before calling it)
    producers = []
    for method in methods:  # processes first: fork before this process has threads
        ctx = multiprocessing.get_context(method)
        qs = [ctx.Queue(), ctx.JoinableQueue()]
        ready, go = ctx.Event(), ctx.Event()
        p = ctx.Process(target=_produce, args=(qs, ready, go, n, gap), daemon=True)
        p.start()
        producers.append((p, ready, go))
        setups += [({"source": "process", "kind": kind, "method": method}, q, go.set)
                   for kind, q in zip(MP_KINDS, qs, strict=True)]
    q, thread_go = queue.Queue(), threading.Event()
    thread = threading.Thread(target=_produce, args=([q], threading.Event(), thread_go, n, gap),
                              daemon=True)
    thread.start()
    setups.append(({"source": "thread", "kind": "queue.Queue"}, q, thread_go.set))
    for kind in MP_KINDS:
        q = _make(kind)
        setups.append(({"source": "feeder", "kind": kind}, q,
                       functools.partial(q.put, SlowPickle("late item", pickle_delay))))
    out: dict = {"started": all(ready.wait(15) for _, ready, _ in producers)}
    if out["started"]:
        calls = [(case, _start(queues.drain, q, timeout, before=before))
                 for case, q, before in setups]
        deadline = time.monotonic() + n * gap + timeout + CALL_LIMIT
        out["cases"] = [{**case, **_finish(t, box, max(0.0, deadline - time.monotonic()))}
                        for case, (t, box) in calls]
    for _, _, go in producers:  # let the producers finish in any case
        go.set()
    thread_go.set()
    for p, _, _ in producers:
        p.join(5)
        if p.is_alive():
            p.kill()
            p.join()
    thread.join(5)
    return out


# ------------------------------------------------------------------- drain: an idle timeout

_SENT: dict[str, list[float]] = {}  # in a producer: when each item was sent, per queue


class Stamped:
    """An item that notes when it is sent. Put on a multiprocessing queue, it is pickled by
    the queue's feeder thread just before its bytes go into the pipe: that moment is noted
    in _SENT (of the producer process). Arrives as a str."""

    def __init__(self, text: str, key: str):
        self.text, self.key = text, key

    def __reduce__(self):
        _SENT.setdefault(self.key, []).append(time.monotonic())
        return (str, (self.text,))


def _produce_paced(qs, keys, ready, go, n: int, gap: float, report: str) -> None:
    """Producer process: once told to go, put n items on each queue, `gap` s apart; then
    write when each was actually sent to `report` (JSON: key -> list of times)."""
    ready.set()
    if not go.wait(10):
        return
    for i in range(n):
        if i:
            time.sleep(gap)
        for q, key in zip(qs, keys, strict=True):
            q.put(Stamped(f"item{i}", key))
    for q in qs:
        q.close()
        q.join_thread()  # every item is in its pipe: _SENT is complete
    with open(report + ".tmp", "w") as f:
        json.dump(_SENT, f)
    os.replace(report + ".tmp", report)


def _produce_paced_thread(q, sent: list, go, n: int, gap: float) -> None:
    """Producer thread: the same on a queue.Queue, noting when each put() returned."""
    if not go.wait(10):
        return
    for i in range(n):
        if i:
            time.sleep(gap)
        q.put(f"item{i}")
        sent.append(time.monotonic())


def _begin(starts: dict, key: str, go) -> None:
    """Run in drain()'s thread just before the call: note the time, let the producer go."""
    starts[key] = time.monotonic()
    go()


def drain_idle(n: int, gap: float, timeout: float) -> dict:
    """drain(q, timeout) on three queues at once, each fed by a producer that puts n items
    `gap` s apart (gap well below timeout, n * gap several timeouts), starting the moment
    drain() is called: a multiprocessing.Queue and a JoinableQueue from one producer process,
    a queue.Queue from a thread. An idle timeout (reset after each item) takes all n items;
    a deadline of `timeout` s from the call loses the later ones.

    Each case also reports the gaps the producer really left: from the call to the first
    item sent, then between items. On a busy machine one may exceed the margin; the test
    then grades again (a drain() that missed an item after such a gap did no wrong)."""
    import queues

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)  # the process first: fork before any thread
    qs = [ctx.Queue(), ctx.JoinableQueue()]
    ready, go = ctx.Event(), ctx.Event()
    report = os.path.abspath("sent.json")
    p = ctx.Process(target=_produce_paced, args=(qs, list(MP_KINDS), ready, go, n, gap, report),
                    daemon=True)
    p.start()
    tq, thread_go, thread_sent = queue.Queue(), threading.Event(), []
    thread = threading.Thread(target=_produce_paced_thread,
                              args=(tq, thread_sent, thread_go, n, gap), daemon=True)
    thread.start()
    out: dict = {"started": ready.wait(15)}
    starts: dict = {}
    if out["started"]:
        setups = [(kind, q, go.set) for kind, q in zip(MP_KINDS, qs, strict=True)]
        setups.append(("queue.Queue", tq, thread_go.set))
        calls = [(kind, _start(queues.drain, q, timeout,
                               before=functools.partial(_begin, starts, kind, start)))
                 for kind, q, start in setups]
        deadline = time.monotonic() + n * gap + timeout + max(CALL_LIMIT, 2.0)
        out["cases"] = [{"kind": kind, **_finish(t, box, max(0.0, deadline - time.monotonic()))}
                        for kind, (t, box) in calls]
    go.set()  # let the producers finish in any case
    thread_go.set()
    p.join(5 + n * gap)
    if p.is_alive():
        p.kill()
        p.join()
    thread.join(5 + n * gap)
    try:
        with open(report) as f:
            sent = json.load(f)
    except (OSError, ValueError):
        sent = {}
    sent["queue.Queue"] = thread_sent
    for case in out.get("cases", []):
        times, start = sent.get(case["kind"], []), starts.get(case["kind"])
        if start is None or len(times) != n:
            case["gaps"] = None  # unknown: the producer did not report every item
            continue
        case["gaps"] = [round(max(0.0, b - a), 3)
                        for a, b in zip([start, *times], times, strict=False)]
    return out
