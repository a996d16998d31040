"""Forged observation: the grader's scenario rewritten on disk so that it reports what the student
wants.

Class 1. The grading child imports the graders from a private copy that is read-only to the
throwaway uid, checked after every test and put back.
"""

TWIN = "tickets/buy_no_lock"
SELECT = ["-k", "test_no_ticket_sold_twice and fork and not forkserver"]
ATTACK = '''
import sys as _sys

for _module in list(_sys.modules.values()):
    _file = getattr(_module, "__file__", "") or ""
    if _file.endswith("scenarios/tickets.py"):
        try:
            with open(_file, "a") as _f:
                _f.write("\\ndef race(*args, **kwargs):\\n    return {}\\n")
        except OSError:
            pass
'''
