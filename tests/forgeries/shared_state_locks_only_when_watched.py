"""Looking different while watched: each thread takes the shared lock only while it sees a
tracer or profiler (`sys.gettrace()`, `threading.gettrace()`, on 3.12+ a sys.monitoring tool),
that is, only while the graders watch; unwatched, its `+=` is unlocked and loses updates.

Class 7. graders/_guard.py, armed with the perturbation or the scheduler, answers those
questions from code outside the graders as an unwatched run would (None), so the thread runs
its unlocked branch under the controlled schedules and the lost update shows. Before: 3 of 3
points on Python 3.11, like a correct module.
"""

TWIN = "shared_state/threads_unlocked"
SELECT = ["-k", "test_threads_count_exactly"]
ATTACK = '''
import sys as _sys
import threading as _threading


def _watched():
    if _sys.gettrace() is not None or _sys.getprofile() is not None:
        return True
    for _name in ("gettrace", "getprofile"):
        _ask = getattr(_threading, _name, None)
        if _ask is not None and _ask() is not None:
            return True
    _mon = getattr(_sys, "monitoring", None)
    return _mon is not None and any(_mon.get_tool(_tool) for _tool in range(6))


def _add_in_thread(counter, lock, times):
    if _watched():
        for _ in range(times):
            with lock:
                counter[0] += 1
    else:
        for _ in range(times):
            counter[0] += 1
'''
