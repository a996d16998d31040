"""Keep the graders' tracer on: an audit hook that refuses sys.settrace/sys.setprofile from
student code while a grader's tracer is in use (the perturbation of graders/_perturb.py, the
scheduling points of graders/schedule.py), and remembers who tried.

An audit hook cannot be removed once added (PEP 578), so `sys.settrace(None)` in student code
raises RuntimeError instead of switching the instrument off. Callers allowed: the graders'
own files, and threading.py (a new thread installs `threading.settrace`'s hook from there).
This is enforcement inside the student's interpreter, not evidence: sys.monitoring (3.12+)
raises no audit event when its events are turned off, so graders/schedule.py also checks its
tool is still in place (`schedule._intact`).

While armed, the instrument is also hidden from code outside the graders: sys.gettrace(),
sys.getprofile(), threading.gettrace(), threading.getprofile() and, for the scheduler's tool,
sys.monitoring.get_tool() answer as in an unwatched run (None), so that code cannot take its
lock only while it sees a tracer; and while a schedule has put the process's threads on one
CPU (graders/schedule.py's _one_cpu), os.sched_getaffinity() and os.process_cpu_count() (3.13)
answer with the CPUs it had before. What stays visible is a frame's own `f_trace` on
3.10/3.11 and the kernel's own files (/proc/self/status), as the README's residual risks say.
"""

from __future__ import annotations

import os
import sys
import threading

OURS = os.path.dirname(os.path.abspath(__file__)) + os.sep  # the graders (their copy)
_THREADING = os.path.abspath(threading.__file__)
# armed: how many instruments are on; tried: the first try; cpus: the CPUs the process was
# allowed before a schedule pinned it to one (None: not pinned)
state = {"armed": 0, "tried": "", "cpus": None}
_installed = [False]


def _hook(event: str, args) -> None:
    if not state["armed"] or event not in ("sys.settrace", "sys.setprofile"):
        return
    frame = sys._getframe(1)
    where = os.path.abspath(frame.f_code.co_filename)
    if where.startswith(OURS) or where == _THREADING:
        return
    if not state["tried"]:
        state["tried"] = f"{event}() at {frame.f_code.co_filename}:{frame.f_lineno}"
    raise RuntimeError("the graders' tracer is in use while your code is graded: "
                       f"{event}() is refused")


MONITOR_TOOL = 4  # the sys.monitoring tool id graders/schedule.py claims (its _MONITOR)


def _ours(frame) -> bool:
    return os.path.abspath(frame.f_code.co_filename).startswith(OURS)


_REAL = object()  # an answer that lets the real function answer


def _seen_as(real, when, answer):
    """`real` as code outside the graders sees it: while `when()`, what `answer(*args)` gives
    (the real answer where that is _REAL), the answer of a run that is not watched or pinned."""
    def looks(*args):
        if when() and not _ours(sys._getframe(1)):
            found = answer(*args)
            if found is not _REAL:
                return found
        return real(*args)

    looks.__name__ = looks.__qualname__ = real.__name__
    looks.__doc__, looks.__module__ = real.__doc__, getattr(real, "__module__", None)
    return looks


def _threads_of_mine(pid: int) -> bool:
    """Whether `pid` is 0, this process or one of its threads (as sched_getaffinity takes)."""
    if pid in (0, os.getpid()):
        return True
    try:
        return str(pid) in os.listdir(f"/proc/{os.getpid()}/task")
    except OSError:
        return False


def _hide() -> None:
    def armed():
        return state["armed"] > 0

    def pinned():
        return state["cpus"] is not None

    sys.gettrace = _seen_as(sys.gettrace, armed, lambda: None)
    sys.getprofile = _seen_as(sys.getprofile, armed, lambda: None)
    for name in ("gettrace", "getprofile"):  # 3.10+
        if hasattr(threading, name):
            setattr(threading, name, _seen_as(getattr(threading, name), armed, lambda: None))
    mon = getattr(sys, "monitoring", None)
    if mon is not None:
        mon.get_tool = _seen_as(mon.get_tool, armed,
                                lambda tool: None if tool == MONITOR_TOOL else _REAL)
    if hasattr(os, "sched_getaffinity"):
        os.sched_getaffinity = _seen_as(
            os.sched_getaffinity, pinned,
            lambda pid: set(state["cpus"]) if _threads_of_mine(pid) else _REAL)
    if hasattr(os, "process_cpu_count"):  # 3.13+
        os.process_cpu_count = _seen_as(os.process_cpu_count, pinned,
                                        lambda: len(state["cpus"]))


def _install() -> None:
    if not _installed[0]:
        sys.addaudithook(_hook)
        _hide()
        _installed[0] = True


def arm() -> None:
    """A grader's tracer is on from now (until disarm())."""
    _install()
    state["armed"] += 1


def disarm() -> None:
    state["armed"] = max(0, state["armed"] - 1)


def pinned(cpus: set[int] | None) -> None:
    """A schedule put this process's threads on one CPU (`cpus`: those allowed before), or
    gave them back (None)."""
    _install()
    state["cpus"] = set(cpus) if cpus is not None else None
