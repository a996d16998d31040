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
lock only while it sees a tracer. What stays visible on 3.10/3.11 is a frame's own `f_trace`
(the README's residual risks).
"""

from __future__ import annotations

import os
import sys
import threading

OURS = os.path.dirname(os.path.abspath(__file__)) + os.sep  # the graders (their copy)
_THREADING = os.path.abspath(threading.__file__)
state = {"armed": 0, "tried": ""}  # armed: how many instruments are on; tried: the first try
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


def _unwatched(real, answer=None):
    """`real` as code outside the graders sees it while armed: `answer`, as when unwatched."""
    def looks(*args):
        if state["armed"] and not _ours(sys._getframe(1)):
            return answer(*args) if callable(answer) else answer
        return real(*args)

    looks.__name__ = looks.__qualname__ = real.__name__
    looks.__doc__, looks.__module__ = real.__doc__, getattr(real, "__module__", None)
    return looks


def _hide() -> None:
    sys.gettrace = _unwatched(sys.gettrace)
    sys.getprofile = _unwatched(sys.getprofile)
    for name in ("gettrace", "getprofile"):  # 3.10+
        if hasattr(threading, name):
            setattr(threading, name, _unwatched(getattr(threading, name)))
    mon = getattr(sys, "monitoring", None)
    if mon is not None:
        real = mon.get_tool
        mon.get_tool = _unwatched(real, lambda tool: None if tool == MONITOR_TOOL
                                  else real(tool))


def arm() -> None:
    """A grader's tracer is on from now (until disarm())."""
    if not _installed[0]:
        sys.addaudithook(_hook)
        _hide()
        _installed[0] = True
    state["armed"] += 1


def disarm() -> None:
    state["armed"] = max(0, state["armed"] - 1)
