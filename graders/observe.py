"""What the grader reads about the grading child's worker from the OS, never from the worker.

While the worker (the process that ran student code) waits on its `go` pipe, the grader
looks at it through /proc (Linux; root reads another uid's entries, so the throwaway uid is
no obstacle):

- its threads, from /proc/<pid>/task: every thread the kernel runs for it, however it was
  started (`threading`, `_thread`, ctypes) and whatever it is called, each with its CPU time
  (utime + stime in /proc/<pid>/task/<tid>/stat);
- the TCP sockets in LISTEN state that it, or any process below it, holds: its fds
  (/proc/<pid>/fd -> socket:[inode]) matched with the LISTEN rows of /proc/<pid>/net/tcp and
  tcp6.

Every thread but the worker's main one (tid == pid) is a leak once the grace is over: the
harness keeps none of its own, and multiprocessing's feeder threads, which end once their
queue is closed or collected, are no exception. The grading child still says what it knows
about its threads (each one's name and daemon flag, by native thread id): that testimony only
names what the OS counted and never removes a thread from the count. When a test judges the
threads itself (checks={"threads": False}), a thread the child does not list is a leak still:
the scenario, which looks through `threading` too, could not have seen it.

Where /proc is missing (macOS, Windows) `available()` is False and the child's own report
stands, marked as such in the feedback.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import psutil

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
BUSY = 0.05  # a thread using more than this share of one core while watched is busy: an
# idle one (blocked, or sleeping between looks) uses well under 1%; threads that spin share
# the GIL, so each gets only a part of the core


def available() -> bool:
    """Whether the grader can read another process's threads and sockets here."""
    return os.path.isdir(f"/proc/{os.getpid()}/task")


@dataclass
class Task:
    """One thread of a process as the kernel shows it."""

    tid: int  # as the grader sees it
    inner: int  # as the process sees it (its PID namespace's id; threading.get_native_id())
    cpu: float  # user + system seconds so far


def _task(pid: int, tid: str) -> Task | None:
    base = f"/proc/{pid}/task/{tid}"
    try:
        with open(f"{base}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"{base}/status") as f:
            nspid = next((line.split()[1:] for line in f if line.startswith("NSpid:")), [tid])
    except (OSError, IndexError):
        return None  # ended meanwhile
    if fields[0] in "ZX":
        return None
    return Task(int(tid), int(nspid[-1]), (int(fields[11]) + int(fields[12])) / TICK)


def threads(pid: int) -> dict[int, Task] | None:
    """The threads of `pid` but its main one, by tid; None if they cannot be read."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    found = {}
    for tid in tids:
        task = _task(pid, tid) if tid != str(pid) else None
        if task:
            found[task.tid] = task
    return found


def _socket_inodes(pid: int) -> set[str] | None:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return set()  # ended meanwhile
    except OSError:
        return None
    inodes = set()
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    return inodes


def listening(pids: list[int]) -> list[str] | None:
    """"port N" for each TCP socket in LISTEN state that one of `pids` holds; None if the
    first (the worker) cannot be read."""
    found: dict[str, str] = {}
    for i, pid in enumerate(pids):
        inodes = _socket_inodes(pid)
        if inodes is None and i == 0:
            return None
        for table in ("tcp", "tcp6"):
            if not inodes:
                break
            try:
                with open(f"/proc/{pid}/net/{table}") as f:
                    rows = f.read().splitlines()[1:]
            except OSError:
                continue
            for row in rows:
                cols = row.split()
                if len(cols) > 9 and cols[3] == "0A" and cols[9] in inodes:
                    found[cols[9]] = f"port {int(cols[1].rsplit(':', 1)[1], 16)}"
    return list(found.values())


def children(pid: int, recursive: bool = False) -> list[int]:
    """The pids of `pid`'s children (its descendants, parents before children, when
    `recursive`), zombies included: the kernel's lists (graders._child.children_of), where
    psutil's children() reads the stat file of every process on the machine (about 1 ms,
    several times per grading child); psutil answers where the kernel keeps no lists."""
    from graders._child import children_of

    if children_of(pid) is None:
        try:
            return [p.pid for p in psutil.Process(pid).children(recursive=recursive)]
        except psutil.Error:
            return []
    found, todo = [], [pid]
    while todo:
        kids = children_of(todo.pop(0)) or []
        found.extend(kids)
        if recursive:
            todo.extend(kids)
    return found


def _below(pid: int) -> list[int]:
    return children(pid, recursive=True)


class Watch:
    """The worker's threads and listening sockets, watched from outside until they are gone.

    Made as soon as the worker says its result is written, so that the CPU each thread uses
    is measured over the whole wait (`leaks()` ends it)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.started = time.monotonic()
        self.first = threads(pid)

    def leaks(self, deadline: float, checks: dict, named: dict) -> list[dict] | None:
        """Leak records (harness.describe_leak) for what is still there at `deadline`, or as
        soon as nothing is; None when the worker's /proc entries cannot be read. `named` is
        the child's testimony, native thread id -> [name, daemon]: it only names threads."""
        if self.first is None:
            return None
        while True:
            now = threads(self.pid)
            ports = listening([self.pid, *_below(self.pid)]) if checks.get("sockets", True) \
                else []
            if now is None or ports is None:
                return None
            if not checks.get("threads", True):  # the scenario judges the threads it sees;
                # one that `threading` does not list, it cannot: that one is a leak still
                now = {tid: t for tid, t in now.items() if str(t.inner) not in named}
            if (not now and not ports) or time.monotonic() >= deadline:
                break
            time.sleep(0.02)
        seconds = time.monotonic() - self.started
        found = []
        if now:
            names, cpu = [], []
            for task in sorted(now.values(), key=lambda t: t.inner):
                before = self.first.get(task.tid)
                names.append(named.get(str(task.inner)) or [None, None])
                cpu.append(round(task.cpu - (before.cpu if before else 0.0), 3))
            found.append({"kind": "threads", "count": len(now), "names": names, "cpu": cpu,
                          "seconds": round(seconds, 3), "seen": "os"})
        if ports:
            found.append({"kind": "sockets", "count": len(ports), "where": ports, "seen": "os"})
        return found


def busy(cpu: float, seconds: float) -> bool:
    """Whether a thread that used `cpu` s in `seconds` s was working, not waiting."""
    return seconds > 0 and cpu > BUSY * seconds
