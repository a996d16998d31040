"""Scenarios for counter.py: SafeCounter and the course's 100 threads (one process, threads).

The latencies handed to the student's SafeCounter are functions of this module (or partials of
them) that record what they see in `_probe`: how many calls, how many callers were inside at
once, how many decrement threads existed. Every scenario runs in a fresh grading child, so
the module-level probe starts clean.
"""

from __future__ import annotations

import functools
import random
import threading
import time

from graders import schedule  # before student code: graders/_child.py's seal
from graders._mark import N_


class Probe:
    """What the grader's latency() observed. Updated under its own lock."""

    def __init__(self, seed: int = 0):
        self.lock = threading.Lock()
        self.seed = seed
        self.calls = 0
        self.inside = 0
        self.max_inside = 0
        self.second_inside = threading.Event()  # set when two callers are inside at once
        self.raise_next = False
        self.baseline = threading.active_count()
        self.threads_seen = 0  # decrement threads alive while the first call was inside
        self.waited = 0.0
        self.callers: set = set()  # the threads that called census_latency()

    def enter(self) -> int:
        """Count a call and a caller inside; return the call's number (1 for the first)."""
        with self.lock:
            self.calls += 1
            self.inside += 1
            self.max_inside = max(self.max_inside, self.inside)
            if self.inside >= 2:
                self.second_inside.set()
            return self.calls

    def leave(self) -> None:
        with self.lock:
            self.inside -= 1

    def nap(self, n: int, low: float, high: float) -> None:
        """Sleep a reproducible random time in [low, high] for call n."""
        time.sleep(random.Random(self.seed * 100_003 + n).uniform(low, high))

    def observed(self) -> dict:
        return {"calls": self.calls, "max_inside": self.max_inside}


_probe = Probe()


def _reset(seed: int) -> Probe:
    global _probe
    _probe = Probe(seed)
    return _probe


def _describe(value) -> dict:
    return {"repr": repr(value)[:200], "int": type(value) is int,
            "value": value if type(value) is int else None}


def _in_thread(func, deadline: float) -> dict:
    """Call func() in a daemon thread; give up on it after `deadline` s (it stays blocked)."""
    box: dict = {}

    def body():
        try:
            box["returned"] = _describe(func())
        except BaseException as e:  # noqa: BLE001 - reported to the student
            box["raised"] = f"{type(e).__name__}: {e}"

    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(deadline)
    return {"hung": t.is_alive(), **box}


# ------------------------------------------------------------------ latencies handed to code


def quick_latency(low: float, high: float) -> None:
    """A latency that sleeps a short random time and is counted."""
    n = _probe.enter()
    try:
        _probe.nap(n, low, high)
    finally:
        _probe.leave()


def flaky_latency() -> None:
    """Raises when the probe says so (once), else sleeps about 1 ms."""
    n = _probe.enter()
    try:
        if _probe.raise_next:
            _probe.raise_next = False
            raise ConnectionError("the network is down (raised by the grader's latency)")
        _probe.nap(n, 0.0005, 0.0015)
    finally:
        _probe.leave()


def census_latency(n_threads: int, stall: float, limit: float, low: float, high: float) -> None:
    """The first call waits until `n_threads` decrement threads exist (or none appears for
    `stall` s): all of them are started before any is joined, and none can finish while the
    first decrement is still inside latency(). Later calls sleep a short random time."""
    n = _probe.enter()
    _probe.callers.add(threading.current_thread())
    try:
        if n == 1:
            started = last = time.monotonic()
            seen = 0
            while True:
                alive = threading.active_count() - _probe.baseline
                if alive > seen:
                    seen, last = alive, time.monotonic()
                now = time.monotonic()
                if seen >= n_threads or now - last > stall or now - started > limit:
                    break
                time.sleep(0.001)
            _probe.threads_seen = seen
            _probe.waited = round(time.monotonic() - started, 3)
        _probe.nap(n, low, high)
    finally:
        _probe.leave()


def rendezvous_latency(wait: float, low: float, high: float) -> None:
    """The first call waits up to `wait` s for a second caller to come inside: with the lock
    held around read-latency-write none can. Later calls return at once or sleep a short
    random time (a quick one lets a thread that takes the lock next finish its whole
    decrement while the previous one is paused just after releasing the lock)."""
    n = _probe.enter()
    try:
        if n == 1:
            _probe.second_inside.wait(wait)
        elif n % 4 == 0:
            _probe.nap(n, low, high)
    finally:
        _probe.leave()


# ---------------------------------------------------------------------------- scenarios


def basics(seed: int) -> dict:
    """One thread: decrement() returns the new value, value reads it, latency once each."""
    import counter

    _reset(seed)
    latency = functools.partial(quick_latency, 0.0002, 0.001)
    c = counter.SafeCounter(5, latency)
    out = {"first": _describe(c.decrement()), "value_1": _describe(c.value),
           "calls_1": _probe.calls}
    out["second"] = _describe(c.decrement())
    out["value_2"] = _describe(c.value)
    out["calls_2"] = _probe.calls
    k = counter.SafeCounter(value=2, latency=latency)
    out["keywords"] = [_describe(k.decrement()), _describe(k.decrement()), _describe(k.value)]
    out["calls_3"] = _probe.calls
    d = counter.SafeCounter(7)  # the default latency
    out["default"] = [_describe(d.decrement()), _describe(d.value)]
    durations = []
    for _ in range(3):
        started = time.perf_counter()
        returned = counter.network_latency()
        durations.append(time.perf_counter() - started)
    out["network_latency"] = {"returned": repr(returned)[:100], "seconds": min(durations)}
    return out


def latency_raises(seed: int, deadline: float) -> dict:
    """A latency() that raises once: the error propagates, nothing changes, the counter
    works afterwards. Every call runs in a thread with a deadline, so a lock that was never
    released shows as a call that never returned."""
    import counter

    probe = _reset(seed)
    c = counter.SafeCounter(5, flaky_latency)
    probe.raise_next = True
    steps = {"raising": _in_thread(c.decrement, deadline)}
    steps["calls"] = probe.calls
    for name, func in (("value_after", lambda: c.value), ("decrement", c.decrement),
                       ("value_end", lambda: c.value)):
        steps[name] = _in_thread(func, deadline)
        if steps[name]["hung"]:
            break
    return steps


def race(n_threads: int, per_thread: int, start: int, wait: float, seed: int,
         deadline: float) -> dict:
    """n threads released at once by a barrier, each calling decrement() per_thread times."""
    import counter

    probe = _reset(seed)
    c = counter.SafeCounter(start, functools.partial(rendezvous_latency, wait, 0.0002, 0.001))
    barrier = threading.Barrier(n_threads)
    returned: list = []
    errors: list = []

    def worker():
        try:
            barrier.wait()
            for _ in range(per_thread):
                returned.append(c.decrement())
        except BaseException as e:  # noqa: BLE001 - reported to the student
            errors.append(f"{type(e).__name__}: {e}")

    threads = [threading.Thread(target=worker, daemon=True)
               for i in range(n_threads)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    end = time.monotonic() + deadline
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    hung = sum(t.is_alive() for t in threads)
    seconds = time.perf_counter() - started
    final = _in_thread(lambda: c.value, 1.0) if not hung else {"hung": True}
    return {
        "hung": hung,
        "errors": errors[:3],
        "returned": [repr(v)[:50] for v in returned],
        "ints": [v for v in returned if type(v) is int],
        "final": final,
        "seconds": round(seconds, 3),
        "callers": sum(t is not threading.current_thread() for t in probe.callers),
        **probe.observed(),
    }


def drain(start: int, n_threads: int, stall: float, seed: int) -> dict:
    """The course's program: drain_with_threads with a latency that counts its calls and
    the decrement threads alive during the first call."""
    import counter

    probe = _reset(seed)
    latency = functools.partial(census_latency, n_threads, stall, 5.0, 0.0002, 0.001)
    before = set(threading.enumerate())
    joined: set = set()
    join = threading.Thread.join

    def counting_join(self, *args, **kwargs):  # which threads were joined (and ended)
        join(self, *args, **kwargs)
        if not self.is_alive():
            joined.add(self)

    threading.Thread.join = counting_join
    started = time.perf_counter()
    try:
        result = counter.drain_with_threads(start, n_threads, latency)
    finally:
        threading.Thread.join = join
    seconds = time.perf_counter() - started
    left = [t.name for t in threading.enumerate() if t.is_alive() and t not in before]
    # Threads that ended on their own are no proof of a join: FIFO lock hand-over can make
    # an unjoined drain read the right value, so ask which decrement threads were joined.
    unjoined = [t.name for t in probe.callers - joined if t is not threading.main_thread()]
    return {
        "result": _describe(result),
        "left": left[:5],
        "n_left": len(left),
        "unjoined": sorted(unjoined)[:5],
        "n_unjoined": len(unjoined),
        "threads_seen": probe.threads_seen,
        "waited": probe.waited,
        "seconds": round(seconds, 3),
        "callers": sum(t is not threading.current_thread() for t in probe.callers),
        **probe.observed(),
    }


# ------------------------------------------------------------- under controlled schedules

_inside = {"now": 0, "max": 0, "calls": 0}


def controlled_latency() -> None:
    """The network round trip on the scheduler's virtual clock: 1 ms, during which the
    scheduler lets other threads run; counts calls and callers inside at once."""

    _inside["calls"] += 1
    _inside["now"] += 1
    _inside["max"] = max(_inside["max"], _inside["now"])
    try:
        schedule.sleep(0.001)
    finally:
        _inside["now"] -= 1


def race_controlled(n_threads: int, per_thread: int, start: int, seed: int, budget: float,
                    replay: list | None = None) -> dict:
    """n_threads grader threads call one SafeCounter's decrement() per_thread times each,
    under controlled schedules (graders/schedule.py)."""
    import os

    import counter


    total = n_threads * per_thread
    wanted = list(range(start - 1, start - total - 1, -1))

    def body() -> dict:
        _inside.update(now=0, max=0, calls=0)
        c = counter.SafeCounter(start, controlled_latency)
        returned: list = []

        def worker():
            for _ in range(per_thread):
                returned.append(c.decrement())

        threads = [schedule.Thread(target=worker) for _ in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return {"final": c.value, "returned": returned, **_inside}

    def check(r: dict) -> list | None:
        """A complaint as [message, values], worded (and translated) by the grader."""
        if "raised" in r:
            return [N_("raised {error}"), {"error": r["raised"]}]
        v = r["value"]
        if v["max"] > 1:
            return [N_("let {count} decrement() calls be inside latency() at the same time"),
                    {"count": v["max"]}]
        if v["final"] != start - total:
            return [N_("left value {value} after {total} decrements from {start} (expected "
                       "{expected})"), {"value": repr(v["final"]), "total": total,
                                        "start": start, "expected": start - total}]
        if sorted((x for x in v["returned"] if type(x) is int), reverse=True) != wanted:
            return [N_("returned {returned} from the {total} decrements (expected each of "
                       "{wanted} once)"), {"returned": repr(v["returned"]), "total": total,
                                           "wanted": repr(wanted)}]
        if v["calls"] != total:
            return [N_("called latency() {calls} times for {total} decrements"),
                    {"calls": v["calls"], "total": total}]
        return None

    prefix = os.path.dirname(os.path.abspath(counter.__file__)) + os.sep
    found = schedule.explore(body, check, prefix, module=counter, seed=seed, budget=budget,
                             replay=replay)
    return schedule.plain(found)


def census_controlled_latency() -> None:
    """controlled_latency, and at the first call: how many decrement threads exist; which
    threads call it."""

    s = schedule._active
    if s is not None and not s.free:
        me = s.task()
        if me is not None:
            _census["callers"].add(me.id)
        if _inside["calls"] == 0:
            _census["seen"] = len(s.tasks) - 1  # all but the caller of drain_with_threads
    controlled_latency()


_census: dict = {"seen": 0, "callers": set()}


def drain_controlled(start: int, n_threads: int) -> dict:
    """The course's program, drain_with_threads(start, n_threads, latency), on one controlled
    schedule without preemption: the virtual clock makes its 100 latencies free, and the
    scheduler sees every thread start, call latency() and get joined."""
    import os

    import counter


    _inside.update(now=0, max=0, calls=0)
    _census.update(seen=0, callers=set())
    prefix = os.path.dirname(os.path.abspath(counter.__file__)) + os.sep
    r = schedule.run_schedule(
        lambda: counter.drain_with_threads(start, n_threads, census_controlled_latency),
        schedule.Sticky(), prefix, module=counter)
    joined = {int(e[4].split()[-1]) for e in r["events"] if e[2] == "join"}
    unjoined = sorted(_census["callers"] - joined - {0})
    result = r.get("value")
    return {
        "uncontrolled": r["problem"], "raised": r.get("raised"),
        "result": _describe(result),
        "left": [f"thread {t}" for t in r.get("left", [])][:5], "n_left": len(r.get("left", [])),
        "unjoined": [f"thread {t}" for t in unjoined][:5], "n_unjoined": len(unjoined),
        "threads_seen": _census["seen"], "waited": 0.0, "virtual_s": r["virtual_s"],
        "calls": _inside["calls"], "max_inside": _inside["max"],
        "callers": len(_census["callers"] - {0}),  # threads, the caller (task 0) not counted
    }
