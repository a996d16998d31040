"""Forged observation: the twin's leaked watcher thread, started with `_thread.start_new_thread`.

Class 8 of the trusted-verdicts issue: a thread started with `_thread` never shows in
`threading.enumerate()`, which is all the grading child could look at. The grader counts the
worker's threads from the OS (/proc/<pid>/task, graders/observe.py), however they were
started, so the watcher is still a leak.
"""

TWIN = "threads/start_thread_leaves_a_watcher"
SELECT = ["-k", "start_thread or start_daemon"]
ATTACK = '''
import _thread


def _start_watcher(thread):
    _thread.start_new_thread(_watch, (thread,))
'''
