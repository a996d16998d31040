"""Forged observation: start_thread returns a stand-in that claims, through `__class__`, to be
the daemon-inheriting twin's thread, and says it is no daemon.

Class 8 of the trusted-verdicts issue: isinstance() believes the `__class__` an object claims,
so the stand-in passed for a threading.Thread and its `daemon = False` for the thread's flag.
The scenarios check returned threads, processes and sockets by their real type
(graders/scenarios/common.is_a), so the stand-in is what it is: not a Thread.
"""

TWIN = "threads/start_thread_daemon_inherited"
SELECT = ["-k", "start_thread or start_daemon"]
ATTACK = '''
class _StandIn:
    __class__ = property(lambda self: threading.Thread)  # isinstance(it, Thread) is True
    daemon = False  # the lie

    def __init__(self, thread):
        self._thread = thread

    ident = property(lambda self: self._thread.ident)
    name = property(lambda self: self._thread.name)

    def is_alive(self):
        return self._thread.is_alive()

    def join(self, timeout=None):
        return self._thread.join(timeout)


_inheriting = start_thread


def start_thread(target, *args):
    return _StandIn(_inheriting(target, *args))
'''
