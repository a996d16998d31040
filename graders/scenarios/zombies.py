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

from graders._mark import N_
from graders.scenarios.common import kill_children

GAVE_UP = 86  # exit code of a target that waited in vain for the others at the barrier
BARRIER_WAIT = 4.0 * float(os.environ.get("GRADER_TIMEOUT_SCALE", "1"))
LINGER = 0.1  # how long the target that returns normally works after the barrier
STARTED_HOW = "GRADER_ZOMBIES_STARTED"  # env: "<folder> <pid of the caller>" for the targets
_CALLER = [0]  # the caller's pid, set before run_children(): only a forked child inherits it

# ------------------------------------------------------------------ targets for run_children


def _note_start_method() -> None:
    """Note in the folder named by $GRADER_ZOMBIES_STARTED how this target's process was
    started: a forked child has the caller's memory (_CALLER), a spawned one is the caller's
    child without it, a forkserver's child has another parent."""
    folder, caller = os.environ.get(STARTED_HOW, " ").split(" ", 1)
    if not folder:
        return
    if _CALLER[0] and _CALLER[0] == os.getppid():
        how = "fork"
    else:
        how = "spawn" if caller == str(os.getppid()) else "forkserver"
    try:
        with open(os.path.join(folder, str(os.getpid())), "w") as f:
            f.write(how)
    except OSError:
        pass


def _meet(barrier) -> None:
    """Wait until every target runs; a target left alone gives up with exit code GAVE_UP."""
    _note_start_method()
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
    """(what the target does, the expected exit code, the target without its barrier); the
    grader translates what it does (N_: marked for the catalog)."""
    kinds = [
        (N_("returns normally"), 0, returns),
        (N_("raises ValueError"), 1, raises),
        (N_("calls sys.exit(3)"), 3, functools.partial(calls_sys_exit, code=3)),
        (N_("calls os._exit(7)"), 7, functools.partial(calls_os_exit, code=7)),
    ]
    if hasattr(signal, "SIGKILL"):
        kinds.append((N_("is killed by SIGKILL"), -signal.SIGKILL,
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


    kinds = _kinds()
    barrier = multiprocessing.Barrier(len(kinds))
    targets = [functools.partial(target, barrier) for _, _, target in kinds]
    how = tempfile.mkdtemp(dir=".")
    _CALLER[0] = os.getpid()
    os.environ[STARTED_HOW] = f"{os.path.abspath(how)} {os.getpid()}"
    started = time.monotonic()
    codes = zombies.run_children(targets)
    seconds = time.monotonic() - started
    left = _children_left()
    kill_children()
    methods = set()
    for name in os.listdir(how):
        try:
            methods.add(open(os.path.join(how, name)).read())
        except OSError:
            pass
    return {
        "methods": sorted(methods),
        "start_method": multiprocessing.get_start_method(),
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
G_LIMIT = 5.0  # the contract: G waits (polling) at most this long to be re-parented
C_HOLD = 5.75  # ... in orphan_not_reparented: longer than the 5 s G may wait to be re-parented
# (C is let go sooner once G has ended: a G that gave up, or wrote too early, settles the test)
_WATCHING = [False]  # the report-open audit hook is installed in this process (or inherited)


def _note_fork(folder: str) -> None:
    """Runs in every process forked from here (C, then G): note "<pid> <parent pid>"."""
    with open(os.path.join(folder, f"fork-{os.getpid()}"), "w") as f:
        f.write(f"{os.getpid()} {os.getppid()}")


def _hold_c(me: int, linger: float = C_LINGER) -> None:
    """Runs in every process that forks from here, after the fork: C lingers a little after
    forking G, so a G that does not wait to be re-parented reports C as its parent."""
    if os.getppid() == me:
        time.sleep(linger)


def _watch_report(report: str, notes: str) -> None:
    """Runs in every process forked from here (C, then G): an audit hook notes in `notes`
    any opening of `report` itself for writing. The report must appear complete or not at
    all, so it is written elsewhere and renamed onto `report`, never opened for writing; a
    reader could otherwise find it empty or half-written (too briefly to be caught reading)."""
    if _WATCHING[0]:
        return  # G inherits C's hook
    _WATCHING[0] = True
    target = os.path.realpath(report)

    def hook(event, args):
        if event != "open" or not args or isinstance(args[0], int):
            return
        mode, flags = (args[1] or ""), (args[2] if len(args) > 2 else 0) or 0
        writes = any(c in str(mode) for c in "wax+") or flags & (os.O_WRONLY | os.O_RDWR)
        try:
            if writes and os.path.realpath(os.fsdecode(args[0])) == target:
                fd = os.open(os.path.join(notes, str(os.getpid())),
                             os.O_WRONLY | os.O_CREAT, 0o600)
                os.close(fd)
        except (OSError, TypeError, ValueError):
            pass

    sys.addaudithook(hook)


def _ended(pids: list[int], deadline: float) -> None:
    """Return once every process in `pids` (children of this one) has ended, or at `deadline`
    (time.monotonic()), whichever comes first, without reaping any: each stays a zombie for
    its next parent to reap. The kernel tells (a pidfd becomes readable when its process
    ends); where pidfds are missing, waitid(WNOWAIT) is asked every 5 ms."""
    import select

    fds: dict[int, int | None] = {}
    for pid in pids:
        try:
            fds[pid] = os.pidfd_open(pid)
        except AttributeError:  # no pidfd on this platform
            fds[pid] = None
        except OSError:  # already gone (reaped): nothing to wait for
            pass
    try:
        while fds and (left := deadline - time.monotonic()) > 0:
            opened = [fd for fd in fds.values() if fd is not None]
            if opened:
                ready, _, _ = select.select(opened, [], [], left)
                for pid, fd in list(fds.items()):
                    if fd in ready:
                        os.close(fds.pop(pid))
            for pid in [p for p, fd in fds.items() if fd is None]:
                try:
                    if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
                        del fds[pid]
                except (AttributeError, ChildProcessError):  # not ours to wait for
                    del fds[pid]
            if fds and not opened:
                time.sleep(0.005)
    finally:
        for fd in fds.values():
            if fd is not None:
                os.close(fd)


def _hold_c_until_g_ends(me: int, hold: float, notes: str) -> None:
    """Runs in every process that forks from here, after the fork: C (our child) is held
    after forking G until G has ended or `hold` s have passed, whichever comes first, so G is
    not re-parented while it may still be waiting (at most 5 s). Once G has ended, the test
    is settled (it gave up, or it wrote its report while C was its parent), and C is let go
    at once. How long C was held is noted in `notes`."""
    if os.getppid() != me:
        return
    import psutil

    started = time.monotonic()
    try:
        children = [p.pid for p in psutil.Process().children()]
    except psutil.Error:
        children = []
    if children:
        _ended(children, started + hold)
    else:  # G not seen (it cannot be): hold C the whole time
        time.sleep(hold)
    try:
        with open(os.path.join(notes, f"held-{os.getpid()}"), "w") as f:
            f.write(f"{time.monotonic() - started:.2f}")
    except OSError:
        pass


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


    me = os.getpid()
    folder = tempfile.mkdtemp(dir=".")
    forks = tempfile.mkdtemp(dir=".")
    report = os.path.join(folder, "report.txt")
    in_place = tempfile.mkdtemp(dir=".")
    os.register_at_fork(after_in_child=functools.partial(_note_fork, forks),
                        after_in_parent=functools.partial(_hold_c, me))
    os.register_at_fork(after_in_child=functools.partial(_watch_report, report, in_place))
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
    # G's own at-fork note, read once G has ended: a G the caller forked itself may not
    # have written it yet when orphan() returns at once
    out["g_forked_by"] = _forks(forks).get(g) if valid else None
    out["g_still_running"] = valid and status is None and psutil.pid_exists(g)
    out["torn"] = torn[:3]
    out["in_place"] = sorted(int(p) for p in os.listdir(in_place))
    out["report"] = open(report).read()[:200] if os.path.exists(report) else None
    kill_children()
    return out


def orphan_not_reparented() -> dict:
    """orphan() whose C is held alive after forking G (by an at-fork hook) until G has ended,
    for at most C_HOLD s, so G is not re-parented within 5 s: G must give up, write nothing
    and exit 1."""
    import psutil
    import zombies


    me = os.getpid()
    folder = tempfile.mkdtemp(dir=".")
    notes = tempfile.mkdtemp(dir=".")
    report = os.path.join(folder, "report.txt")
    os.register_at_fork(after_in_parent=functools.partial(_hold_c_until_g_ends, me, C_HOLD,
                                                          notes))
    started = time.monotonic()
    g = zombies.orphan(report)
    held = []
    for name in os.listdir(notes):
        try:
            held.append(float(open(os.path.join(notes, name)).read()))
        except (OSError, ValueError):
            pass
    out: dict = {"returned": g if type(g) is int else repr(g),
                 "seconds": round(time.monotonic() - started, 2),
                 "linux": sys.platform.startswith("linux"), "hold": C_HOLD,
                 "held": max(held, default=C_HOLD)}
    status = None
    valid = type(g) is int and g > 0
    deadline = time.monotonic() + 2.0  # G gave up (or was re-parented) before C was let go
    while valid and time.monotonic() < deadline:
        try:
            pid, raw = os.waitpid(g, os.WNOHANG)
            if pid:
                status = os.waitstatus_to_exitcode(raw)
                break
        except ChildProcessError:
            if not psutil.pid_exists(g):
                break
        time.sleep(0.005)
    out["g_status"] = status
    out["g_still_running"] = valid and status is None and psutil.pid_exists(g)
    out["report"] = open(report).read()[:200] if os.path.exists(report) else None
    kill_children()
    return out
