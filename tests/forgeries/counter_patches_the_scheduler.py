"""Forged observation: the controlled scheduler told to find nothing. At import, the module
replaces graders.schedule.explore (which would run its decrement() under hundreds of thread
schedules) with a function that reports a search without a failing schedule.

Class 1. The controlled scheduler has to run inside the student's interpreter, so it cannot be
out of reach; the grading child seals the graders' code before student code runs
(graders/_child.py, seal()) and fails the test when a graders module, function or class was
replaced while it ran. Before: 3 of 3 points, like a correct module; its twin 0.
"""

TWIN = "counter/counter_no_lock"
SELECT = ["-k", "test_no_lost_decrements"]
ATTACK = '''
try:
    import graders.schedule as _schedule

    _schedule.explore = lambda *args, **kwargs: {}
    _schedule.plain = lambda found: {"schedules": 361, "executions": 92}
except ImportError:
    pass
'''
