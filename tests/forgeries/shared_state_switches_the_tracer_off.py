"""Recognisable or removable instruments: each thread switches the graders' tracer off
(`sys.settrace(None)`; on 3.12+ `sys.monitoring.set_events(4, 0)`) before its unlocked `+=`, so
the controlled scheduler sees no shared access to preempt at and the lost update never shows.

Class 4. graders/_guard.py's audit hook (which cannot be removed) refuses sys.settrace and
sys.setprofile from student code while a grader's tracer is on, and graders/schedule.py checks
its sys.monitoring tool is still in place: a schedule in which the points were switched off
fails. Before: 3 of 3 points on Python 3.11, like a correct module.
"""

TWIN = "shared_state/threads_unlocked"
SELECT = ["-k", "test_threads_count_exactly"]
ATTACK = '''
import sys as _sys


def _add_in_thread(counter, lock, times):
    try:
        _sys.settrace(None)
        _sys.setprofile(None)
    except RuntimeError:
        pass
    _mon = getattr(_sys, "monitoring", None)
    if _mon is not None:
        for _tool in range(6):
            try:
                _mon.set_events(_tool, 0)
            except ValueError:
                pass
    for _ in range(times):
        counter[0] += 1
'''
