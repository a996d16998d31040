"""Scenarios for zombies.py: run_children (reap every child) and orphan (a double fork)."""

from __future__ import annotations

import functools
import multiprocessing
import os
import re
import signal
import sys
import tempfile
import threading
import time

GAVE_UP = 86  # exit code of a target that waited in vain for the others at the barrier
BARRIER_WAIT = 4.0 * float(os.environ.get("GRADER_TIMEOUT_SCALE", "1"))
LINGER = 0.1  # how long the target that returns normally works after the barrier

# ------------------------------------------------------------------ targets for run_children


def _meet(barrier) -> None:
    """Wait until every target runs; a target left alone gives up with exit code GAVE_UP."""
    try:
        barrier.wait(BARRIER_WAIT)
    except threading.BrokenBarrierError:
        os._exit(GAVE_UP)


def returns(barrier) -> None:
    _meet(barrier)
    time.sleep(LINGER)  # ends last: a caller that does not wait for every child misses it


def raises(barrier) -> None:
    _meet(barrier)
    raise ValueError("raised on purpose by the grader's target (expected exit code 1)")


def calls_sys_exit(barrier, code: int) -> None:
    _meet(barrier)
    sys.exit(code)


def calls_os_exit(barrier, code: int) -> None:
    _meet(barrier)
    os._exit(code)


def kills_itself(barrier, signum: int) -> None:
    _meet(barrier)
    os.kill(os.getpid(), signum)
    time.sleep(10)  # never reached: the signal ends the process


def _kinds() -> list[tuple[str, object, object]]:
    """(what the target does, the expected exit code, the target without its barrier)."""
    kinds = [
        ("returns normally", 0, returns),
        ("raises ValueError", 1, raises),
        ("calls sys.exit(3)", 3, functools.partial(calls_sys_exit, code=3)),
        ("calls os._exit(7)", 7, functools.partial(calls_os_exit, code=7)),
    ]
    if hasattr(signal, "SIGKILL"):
        kinds.append(("is killed by SIGKILL", -signal.SIGKILL,
                      functools.partial(kills_itself, signum=signal.SIGKILL)))
    return kinds


def _children_left() -> dict:
    """Child processes of this process right now, except multiprocessing's own helpers."""
    import psutil

    from graders._child import _helper_pids

    helpers = _helper_pids()
    running, zombies = [], []
    for p in psutil.Process().children(recursive=True):
        if p.pid in helpers:
            continue
        try:
            (zombies if p.status() == psutil.STATUS_ZOMBIE else running).append(p.pid)
        except psutil.NoSuchProcess:
            pass
    return {"running": running, "zombies": zombies}


def children_codes() -> dict:
    """run_children on targets that meet at a barrier, then end in every way there is."""
    import zombies

    from graders.scenarios.common import kill_children

    kinds = _kinds()
    barrier = multiprocessing.Barrier(len(kinds))
    targets = [functools.partial(target, barrier) for _, _, target in kinds]
    started = time.monotonic()
    codes = zombies.run_children(targets)
    seconds = time.monotonic() - started
    left = _children_left()
    kill_children()
    return {
        "what": [what for what, _, _ in kinds],
        "expected": [code for _, code, _ in kinds],
        "type": type(codes).__name__,
        "codes": [c if type(c) is int else repr(c) for c in codes]
        if isinstance(codes, list | tuple) else repr(codes)[:200],
        "seconds": round(seconds, 2),
        **left,
    }


# ---------------------------------------------------------------------------------- orphan

REPORT = re.compile(r"(\d+) (\d+)")
C_LINGER = 0.15  # how long C lives on after forking G


def _note_fork(folder: str) -> None:
    """Runs in every process forked from here (C, then G): note "<pid> <parent pid>"."""
    with open(os.path.join(folder, f"fork-{os.getpid()}"), "w") as f:
        f.write(f"{os.getpid()} {os.getppid()}")


def _hold_c(me: int) -> None:
    """Runs in every process that forks from here, after the fork: C lingers a little after
    forking G, so a G that does not wait to be re-parented reports C as its parent."""
    if os.getppid() == me:
        time.sleep(C_LINGER)


def _forks(folder: str) -> dict[int, int]:
    out = {}
    for name in os.listdir(folder):
        try:
            pid, ppid = open(os.path.join(folder, name)).read().split()
            out[int(pid)] = int(ppid)
        except (OSError, ValueError):
            pass
    return out


def orphan_run() -> dict:
    """orphan(): who is left as our child, the report, and how the grandchild ended."""
    import psutil
    import zombies

    from graders.scenarios.common import kill_children

    me = os.getpid()
    folder = tempfile.mkdtemp(dir=".")
    forks = tempfile.mkdtemp(dir=".")
    report = os.path.join(folder, "report.txt")
    os.register_at_fork(after_in_child=functools.partial(_note_fork, forks),
                        after_in_parent=functools.partial(_hold_c, me))
    started = time.monotonic()
    g = zombies.orphan(report)
    seconds = time.monotonic() - started
    left = _children_left()
    out: dict = {"returned": g if type(g) is int else repr(g), "seconds": round(seconds, 2),
                 "me": me, "linux": sys.platform.startswith("linux")}
    known = _forks(forks)
    children = [pid for pid, ppid in known.items() if ppid == me]
    out["c"] = children[0] if len(children) == 1 else None
    # Anything left besides G (which may already be ours, re-parented): C was not reaped.
    out["left_running"] = [p for p in left["running"] if p != g]
    out["left_zombies"] = [p for p in left["zombies"] if p != g]

    # Wait for G to end, watching the report: whenever it exists it must be complete.
    torn: list[str] = []
    status, ours = None, False
    valid = type(g) is int and g > 0
    deadline = time.monotonic() + 8.0
    while valid and time.monotonic() < deadline:
        if os.path.exists(report):
            try:
                text = open(report).read()
            except OSError:
                text = None
            if text is not None and not REPORT.fullmatch(text.strip()):
                torn.append(repr(text[:80]))
        try:
            pid, raw = os.waitpid(g, os.WNOHANG)
            ours = True
            if pid:
                status = os.waitstatus_to_exitcode(raw)
                break
        except ChildProcessError:  # not (yet) our child: still C's, or re-parented elsewhere
            ours = False
            if not psutil.pid_exists(g):
                break
        time.sleep(0.005)
    out["g_ours"] = ours
    out["g_status"] = status
    out["g_still_running"] = valid and status is None and psutil.pid_exists(g)
    out["torn"] = torn[:3]
    out["report"] = open(report).read()[:200] if os.path.exists(report) else None
    kill_children()
    return out
