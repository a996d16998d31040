"""Scenarios for shared_state.py: counting with threads (shared memory) and processes (not)."""

from __future__ import annotations

import sys
import time

from graders import schedule  # before student code: graders/_child.py's seal
from graders._mark import N_


def _call(func, *args) -> dict:
    """Call func(*args); describe what it returned and how long it took."""
    started = time.perf_counter()
    result = func(*args)
    return {
        "args": list(args),
        "result": repr(result)[:200],
        "is_int": type(result) is int,
        "value": result if type(result) is int else None,
        "seconds": round(time.perf_counter() - started, 3),
    }


def threads_count(sizes: list) -> dict:
    """count_with_threads for each (n_threads, per_thread), with a tiny switch interval.

    The harness's perturbation pauses the student's bytecodes at random; a switch interval
    of 1 us makes the interpreter hand the GIL over at almost every chance it gets."""
    import shared_state

    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        runs = [_call(shared_state.count_with_threads, n, per) for n, per in sizes]
    finally:
        sys.setswitchinterval(before)
    return {"runs": runs}


def processes_count(n_procs: int, per_proc: int) -> dict:
    """count_with_processes(n_procs, per_proc) under the start method of this run."""
    import shared_state

    return _call(shared_state.count_with_processes, n_procs, per_proc)


def threads_controlled(n_threads: int, per_thread: int, seed: int, budget: float,
                       replay: list | None = None, sizes: list | None = None) -> dict:
    """count_with_threads(n_threads, per_thread) under controlled schedules (graders/schedule):
    every schedule with one preemption, then PCT, until a schedule gives a wrong total or the
    PCT bound for depth-2 bugs reaches 0.99; with `replay`, that one saved schedule. Then,
    unless a schedule failed, count_with_threads at each of `sizes` as it is (in "plain")."""
    import os

    import shared_state

    expected = n_threads * per_thread

    def check(r: dict) -> list | None:
        """A complaint as [message, values], worded (and translated) by the grader."""
        if "raised" in r:
            return [N_("raised {error}"), {"error": r["raised"]}]
        value = r.get("value")
        if type(value) is not int or value != expected:
            return [N_("returned {value}"), {"value": repr(value)}]
        if r["threads"] - 1 < n_threads:  # the scheduler saw every thread start
            return [N_("returned {value} but started {started} thread(s), not {wanted}: the "
                       "count must be made by the threads"),
                    {"value": value, "started": r["threads"] - 1, "wanted": n_threads}]
        # ... and each of them write shared state (task 0 is the caller): idle decoys do not
        writers = {e[1] for e in r.get("events", []) if e[2] == "write" and e[1] != 0}
        if len(writers) < n_threads:
            return [N_("returned {value}, but only {writers} of the {wanted} threads it started "
                       "wrote to a shared counter: each thread must add its own share to it"),
                    {"value": value, "writers": len(writers), "wanted": n_threads}]
        return None

    prefix = os.path.dirname(os.path.abspath(shared_state.__file__)) + os.sep
    found = schedule.explore(lambda: shared_state.count_with_threads(n_threads, per_thread),
                             check, prefix, module=shared_state, seed=seed, budget=budget,
                             replay=replay)
    out = schedule.plain(found)
    if sizes and not found.get("found") and not found.get("uncontrolled"):
        out["plain"] = threads_count(sizes)["runs"]
    return out
