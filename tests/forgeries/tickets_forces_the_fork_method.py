"""Choosing its own start method: sell() starts its buyers from
`multiprocessing.get_context("fork")` whatever the test set, so under spawn and forkserver its
buyers still inherit the module-global lock that a fresh interpreter would not have.

Class 8. The contract has student code use the default start method; the grading child notes
every process that student code starts with another one (graders/_child.py,
_watch_start_methods), and the test fails, naming the method. Before: test_sell passed under
all three methods, 2 points more than its twin.
"""

TWIN = "tickets/sell_course_global_mutex"
SELECT = ["-k", "test_sell and not failed"]
ATTACK = '''
import multiprocessing as _mp

multiprocessing = _mp.get_context("fork")  # sell() looks the name up when it runs
'''
