"""Scenarios for ipc.py: transfer() through a producer and a consumer process (section 5).

transfer() runs in a daemon thread with a deadline: a call that deadlocks (the classic: joining
a process before reading what it sent) is reported, and its processes killed, instead of
holding the grading child until the harness timeout. Right after each call returns, the
scenario looks for the processes it started (still running, zombies, never joined) and for
threads it left running.
"""

from __future__ import annotations

import os
import threading
import time

from graders.scenarios.common import Stillness, kill_children

SCALE = float(os.environ.get("GRADER_TIMEOUT_SCALE", "1"))  # as harness.SCALE
LIMIT = 6.0 * SCALE  # seconds one transfer() of the mixed or the big items may take
MANY_LIMIT = 12.0 * SCALE  # seconds transfer() of many small items may take
THREAD_GRACE = 1.0 * SCALE  # seconds threads started by transfer() get to end after it returns
# seconds every process and thread of the student's may sleep without once waking before a
# transfer() counts as deadlocked (common.Stillness): a correct one always has a process
# moving data or about to, so still this long is a join on a process that cannot exit
# until its queue is read (its feeder blocked on a full pipe), or a get() nobody puts for
STILL = 0.5 * SCALE

BIG = bytes(range(256)) * 31_250  # one 8,000,000-byte item


class Hop:
    """An item that records the pid of every process that pickled it on its way."""

    def __init__(self, tag: str, pids=()):
        self.tag, self.pids = tag, list(pids)

    def __reduce__(self):
        return (Hop, (self.tag, [*self.pids, os.getpid()]))


# Values a hand-made protocol often takes for its stop sign, between ordinary ones.
MIXED = ["first", None, "DONE", "STOP", ("item", 1), ("done", None), None, {"stop": None},
         "", 0, False, [], -1, b"", "END", (None,), 2.5, "None", Hop("witness"), "last"]


def show(x) -> str:
    """A faithful, short description of an item (repr tells 0, False, 0.0 and '' apart)."""
    if type(x) is Hop:
        return f"Hop({x.tag!r})"
    return repr(x)[:80]


def _left_behind() -> dict:
    """The processes below this one that are not multiprocessing's helpers, and the
    multiprocessing.Process objects started here and never joined."""
    import multiprocessing.process

    import psutil

    from graders._child import _helper_pids

    helpers = _helper_pids()
    running, zombies = [], []
    for p in psutil.Process().children(recursive=True):
        if p.pid in helpers:
            continue
        try:
            (zombies if p.status() == psutil.STATUS_ZOMBIE else running).append(p.pid)
        except psutil.NoSuchProcess:
            pass
    unjoined = len(multiprocessing.process._children)  # join() takes a process out
    return {"running": running, "zombies": zombies, "unjoined": unjoined}


def _clean_up() -> None:
    """Reap and kill what a call left behind, so the next call starts clean."""
    import multiprocessing


    multiprocessing.active_children()
    kill_children()
    multiprocessing.active_children()


def _new_threads(before: set, mine: set) -> list[str]:
    """Threads started by the student code that are still running, after a grace period."""
    deadline = time.monotonic() + THREAD_GRACE
    while True:
        alive = [t for t in threading.enumerate()
                 if t not in before and t not in mine and t.is_alive()
                 and not t.name.startswith("QueueFeederThread")]
        if not alive or time.monotonic() > deadline:
            return [t.name for t in alive]
        time.sleep(0.01)


def _runs_student_code(process, impl: str) -> bool:
    """Whether `process` (a multiprocessing.Process about to start) runs a function of the
    student's folder: its target (through a partial or a bound method), or its own run()."""
    import multiprocessing.process

    target = getattr(process, "_target", None)
    if target is None and type(process).run is not multiprocessing.process.BaseProcess.run:
        target = type(process).run
    target = getattr(target, "func", target)
    code = getattr(getattr(target, "__func__", target), "__code__", None)
    return code is not None and os.path.abspath(code.co_filename).startswith(impl)


def _counting_starts(impl: str) -> tuple[list, callable]:
    """Until undone, every multiprocessing.Process started in this process that runs the
    student's code is counted (a manager's or a pool's processes are not); returns the
    count (a list that grows) and the undo."""
    from graders._child import observe_starts

    counted: list = []
    return counted, observe_starts(
        lambda process: _runs_student_code(process, impl) and counted.append(1))


def _transfer(items, limit: float, before: set, mine: set):
    """Call transfer(items) with a deadline. Return (observations, value or None)."""
    import ipc


    box: dict = {}
    impl = os.path.dirname(os.path.abspath(ipc.__file__)) + os.sep

    def run():
        started = time.monotonic()
        counted, undo = _counting_starts(impl)
        try:
            box["value"] = ipc.transfer(items)
        except BaseException as e:  # noqa: BLE001 - re-raised in the scenario's thread
            box["error"] = e
        finally:
            undo()
        box["processes"] = len(counted)
        box["seconds"] = time.monotonic() - started
        box["left"] = _left_behind()  # right after the return

    t = threading.Thread(target=run, daemon=True)
    mine.add(t)
    t.start()
    started, still = time.monotonic(), Stillness(STILL)
    while t.is_alive() and time.monotonic() - started < limit:
        t.join(0.01)
        if still.reached():
            break
    if t.is_alive():
        waited = round(time.monotonic() - started, 1)
        return {"hung": True, "deadlocked": waited < limit, "waited": waited,
                "killed": len(kill_children())}, None
    if "error" in box:
        raise box["error"]
    seen = {"hung": False, "seconds": round(box["seconds"], 3), "left": box["left"],
            "threads": _new_threads(before, mine), "processes": box["processes"]}
    left = box["left"]
    if left["running"] or left["zombies"] or left["unjoined"]:
        _clean_up()
    value = box["value"]
    seen["type"] = type(value).__name__
    if not isinstance(value, list):
        seen["repr"] = repr(value)[:200]
    return seen, value


def transfer_mixed_and_big() -> dict:
    """transfer() of values that look like stop signs, then of one 8 MB item."""
    before = set(threading.enumerate())
    mine: set = set()
    out = {}
    seen, value = _transfer(list(MIXED), LIMIT, before, mine)
    out["mixed"] = seen
    if seen["hung"]:
        return out
    if isinstance(value, list):
        seen["items"] = [show(x) for x in value]
        hops = [x for x in value if type(x) is Hop]
        seen["pids"] = hops[0].pids if hops else None
    seen["me"] = os.getpid()
    seen, value = _transfer([BIG], LIMIT, before, mine)
    out["big"] = seen
    if isinstance(value, list):
        seen["n"] = len(value)
        first = value[0] if value else None
        seen["first_type"] = type(first).__name__
        seen["intact"] = type(first) is bytes and first == BIG
    return out


def transfer_many(n: int) -> dict:
    """transfer() of n small items (ints 0 .. n-1): all back, in order."""
    before = set(threading.enumerate())
    seen, value = _transfer(list(range(n)), MANY_LIMIT, before, set())
    if isinstance(value, list):
        seen["n"] = len(value)
        ints = all(type(x) is int for x in value)
        seen["permutation"] = ints and len(value) == n and sorted(value) == list(range(n))
        bad = next((i for i, x in enumerate(value) if type(x) is not int or x != i), None)
        if bad is None and len(value) < n:
            bad = len(value)
        seen["first_bad"] = bad
        if bad is not None:
            seen["around"] = [show(x) for x in value[bad:bad + 5]]
    return seen
