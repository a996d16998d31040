"""Forged observation: the twin's leaked watcher thread, hidden by patching `threading.enumerate`.

Class 1 of the trusted-verdicts issue: the grading child listed its threads with
`threading.enumerate()`, which student code can replace (here only once it runs, so the
import check does not see it). The grader counts the threads from the OS instead; what the
child lists only names them.
"""

TWIN = "threads/start_thread_leaves_a_watcher"
SELECT = ["-k", "start_thread or start_daemon"]
ATTACK = '''
_honest_start_watcher = _start_watcher


def _start_watcher(thread):
    _honest_start_watcher(thread)
    if not getattr(threading, "_forged", False):
        shown = threading.enumerate
        threading.enumerate = lambda: [t for t in shown() if t.name != "watcher"]
        threading._forged = True
'''
