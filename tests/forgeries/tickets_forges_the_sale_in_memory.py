"""Forged observation: the scenario's own helpers rewritten in memory, and sell() reporting
exactly the 5 winners the grader expects, while its lock-free buyers oversell.

Class 1. sell() runs in the grading child, beside the scenario that calls it: at import the
module replaces the scenario's helpers that look at the latency's notes and at the database
(no overlap, every call in its own process, ticket_num 0), and sell() returns 5 True. The
grader no longer asks the grading child what happened: every latency() call is a round trip to
the grader's own process (graders/desk.py), which sees from its side which calls overlapped and
which process each came from (the kernel says), and reads the database itself.
"""

TWIN = "tickets/buy_no_lock"
SELECT = ["-k", "test_sell and not failed and fork and not forkserver"]
ATTACK = '''
import sys as _sys

_sc = _sys.modules.get("graders.scenarios.tickets")
if _sc is not None:
    def _forged_observed(*args, **kwargs):
        return {"calls": 20, "overlap": False, "unlocked": 0, "processes": 20,
                "in_caller": 0}

    for _name in ("_observed", "observed"):
        setattr(_sc, _name, _forged_observed)
    _sc._read = lambda db: {"ticket_num": 0, "venue": "hall"}
    _sc._ticket_num = lambda db: 0

    _honest_sell = sell

    def sell(names, db, latency=network_latency):
        got = _honest_sell(names, db, latency)
        return {name: i < 5 for i, name in enumerate(got)}
'''
