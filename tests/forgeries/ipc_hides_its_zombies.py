"""Forged observation: the twin's zombies, hidden by rewriting the grader's in-process leak check.

Class 1 of the trusted-verdicts issue. The grader looks at the process table itself, from
outside the student's processes, so replacing its in-process helpers changes nothing.
"""

TWIN = "ipc/ipc_course_no_join"
SELECT = ["-k", "ipc"]
ATTACK = '''
import sys as _sys

_honest_transfer = transfer


def transfer(items):
    out = _honest_transfer(items)
    for name, module in list(_sys.modules.items()):
        if hasattr(module, "find_leaks"):
            module.find_leaks = lambda *args, **kwargs: []
        if hasattr(module, "_descendants"):
            module._descendants = lambda: []
    return out
'''
