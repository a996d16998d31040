"""A grading run that dies: every buyer kills its parent, then its parent's parent, with xdist on.

Class 6. Without containment the kills walk up to the pytest-xdist worker and then the
controller, and no results.json is written. Contained, the parent is PID 1 of the
namespace, owned by another uid: the kills fail, the grading goes on.
"""

TWIN = "tickets/buy_no_lock"
SELECT = ["-n", "2", "-k", "tickets"]
ATTACK = '''
import os as _os
import signal as _signal
import time as _time

_honest_buy = buy


def buy(name, db, lock, latency=network_latency):
    for _ in range(3):
        try:
            _os.kill(_os.getppid(), _signal.SIGKILL)
        except OSError:
            pass
        _time.sleep(0.05)
    return _honest_buy(name, db, lock, latency)
'''
