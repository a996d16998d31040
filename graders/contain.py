"""How the OS contains student code: the strongest rung of the ladder this platform allows.

Chosen once per grading run by `probe()` in the grading process, stated in the report header
and in results.json, applied to every grading child by the harness (`command()`, `prepare()`)
and, inside the child, by `enter()` and `drop_privileges()` (graders/_enter.py, which imports
only os: every grading child pays for its imports). The rungs, strongest first:

- **pid namespace** (Linux, root or user namespaces): the grading child is started through
  util-linux `unshare --pid --fork --mount-proc --kill-child`, so it is PID 1 of a namespace of
  its own. When it ends, the kernel kills every process left in the namespace, however it
  forked, cloned or setsid'ed; nothing outside the namespace can be seen or signalled from
  inside; /proc inside shows only the namespace.
- **throwaway uid** (with the namespace, when the grader runs as root: Gradescope, CI
  containers): before student code is imported, the process that runs it drops to an unused
  uid (no groups). Grader files, reports, and other students' folders are then read-only to
  it, and the kernel's per-user process limit applies. Folders that other users cannot enter
  (a home directory of mode 700 holding the interpreter) are made enterable inside the
  child's mount namespace only: a tmpfs over the closed folder, with just the folders grading
  needs bound back into it.
- **cgroup** (a writable cgroup v1 `pids` hierarchy): the grading process (pytest, or each
  xdist worker) moves itself once into a cgroup of its own (`join_cgroup`), so every grading
  child it starts, one test at a time, is born there; its `pids.max`, the test's process
  limit plus the grader's own tasks, is enforced by the kernel, so a fork bomb stops there.
  One move per run, not one per child: a move waits for an RCU grace period (5-20 ms here).
- **session** (macOS, Windows, Linux without root or `unshare`): the child gets a session of
  its own; on a timeout the harness kills the session and the process tree it can see, and on
  Linux it is a child subreaper, so double-forked orphans come back to it. A process that
  leaves both (clone with CLONE_PARENT, then setsid) is not contained: this rung is weak, and
  every report says so.
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

UNSHARE = ["--pid", "--fork", "--mount-proc", "--kill-child"]
CGROUP_PIDS = Path("/sys/fs/cgroup/pids")


@dataclass(frozen=True)
class Containment:
    """What contains the student code of this grading run."""

    pid_namespace: bool = False
    uid: int | None = None  # the throwaway uid, when there is one
    cgroup: bool = False
    why_not: tuple[str, ...] = ()  # why a stronger rung is missing
    unshare: str = ""

    @property
    def rungs(self) -> list[str]:
        found = ["pid namespace"] if self.pid_namespace else []
        found += [f"throwaway uid {self.uid}"] if self.uid is not None else []
        found += ["cgroup pids limit"] if self.cgroup else []
        return found or ["session and process tree only"]

    @property
    def weak(self) -> bool:
        """Only the weakest rung: an escaped process can outlive its test."""
        return not self.pid_namespace

    def describe(self) -> str:
        text = " + ".join(self.rungs)
        if self.weak:
            text += " (WEAK: a process that leaves its session and the process tree can " \
                    "outlive its test)"
        return text + (f"; not available: {'; '.join(self.why_not)}" if self.why_not else "")

    def as_dict(self) -> dict:
        return {"rungs": self.rungs, "weak": self.weak, "uid": self.uid,
                "not_available": list(self.why_not)}


def _works(cmd: list[str]) -> bool:
    try:
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def probe(disabled: bool = False) -> Containment:
    """The strongest containment that works here, tried for real (a container may refuse
    `unshare` even to root)."""
    why: list[str] = []
    if disabled:
        return Containment(why_not=("turned off (--no-contain)",))
    if not sys.platform.startswith("linux"):
        return Containment(why_not=(f"PID namespaces exist only on Linux ({sys.platform})",))
    unshare = shutil.which("unshare") or ""
    if not unshare:
        return Containment(why_not=("no util-linux `unshare` on PATH",))
    # A program that does nothing proves the namespace, /proc mount and kill-child work as
    # well as an interpreter would, without one's start (~70 ms per pytest process here).
    true = shutil.which("true")
    if not _works([unshare, *UNSHARE, *([true] if true else [sys.executable, "-c", "pass"])]):
        why.append("`unshare --pid` is refused here (no root, no user namespaces, or a "
                   "seccomp profile)")
        return Containment(why_not=tuple(why))
    uid = None
    if os.geteuid() == 0:
        uid = _free_uid()
    else:
        why.append("the grader does not run as root, so it cannot switch to a throwaway uid")
    cgroup = os.geteuid() == 0 and os.access(CGROUP_PIDS, os.W_OK)
    if not cgroup:
        why.append("no writable cgroup v1 pids hierarchy")
    return Containment(pid_namespace=True, uid=uid, cgroup=cgroup, why_not=tuple(why),
                       unshare=unshare)


def _free_uid() -> int:
    """A uid that no account has, picked at random so that two gradings on one machine
    (grade-all --jobs) never share one."""
    try:
        import pwd

        taken = {p.pw_uid for p in pwd.getpwall()}
    except ImportError:  # pragma: no cover - POSIX always has pwd
        taken = set()
    while True:
        uid = 200_000 + secrets.randbelow(800_000)
        if uid not in taken:
            return uid


def command(c: Containment, argv: list[str]) -> list[str]:
    """The command line that starts a grading child under `c`."""
    return [c.unshare, *UNSHARE, *argv] if c.pid_namespace else argv


def _closed(path: Path) -> Path | None:
    """The outermost folder on the way to `path` that other users cannot enter."""
    for parent in reversed([path, *path.parents]):
        if parent == Path(parent.anchor):
            continue
        try:
            mode = parent.stat().st_mode
        except OSError:
            return None
        if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
            return parent
    return None


@dataclass
class Plan:
    """What the grading child does before student code runs: mounts, cgroup, uid."""

    uid: int | None = None
    expose: list[list[str]] = field(default_factory=list)  # [closed folder, folder in it]

    def as_dict(self) -> dict:
        return {"uid": self.uid, "expose": self.expose}


@functools.lru_cache(maxsize=1)
def needed_paths() -> tuple[Path, ...]:
    """Folders that a grading child's unprivileged processes must be able to enter: the
    interpreter (spawn starts it again) and its standard library (the same all run long)."""
    import sysconfig

    found = {Path(sys.executable).parent, Path(os.path.realpath(sys.executable)).parent,
             Path(sys.prefix), Path(sys.base_prefix)}
    for name in ("stdlib", "platstdlib"):
        found.add(Path(sysconfig.get_paths()[name]))
    return tuple(sorted(Path(os.path.realpath(p)) for p in found))


def plan(c: Containment, grant: list[Path]) -> tuple[Plan, str]:
    """The child's plan for one grading; `grant` are the folders its student processes must
    own (they are chown'ed to the uid). Returns the plan and why the uid was given up, if it
    was (a folder that stays closed even with the mount trick)."""
    p = Plan()
    if c.uid is not None:
        expose: dict[str, str] = {}
        for path in needed_paths():
            closed = _closed(path)
            if closed is None:
                continue
            if path == closed:
                return Plan(), f"{path} is closed to other users"
            inner = closed / path.relative_to(closed).parts[0]
            between = [q for q in [path, *path.parents] if q == inner or inner in q.parents]
            if any(not q.stat().st_mode & stat.S_IXOTH for q in between if q.is_dir()):
                return Plan(), f"{path} stays closed to other users below {inner}"
            expose[str(inner)] = str(closed)
        p.uid = c.uid
        p.expose = [[closed, inner] for inner, closed in sorted(expose.items())]
        for folder in grant:
            for root, dirs, files in os.walk(folder):
                for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                    os.lchown(name, c.uid, c.uid)
    return p, ""


_cgroup: dict[str, str] = {}  # "group": this process's grading cgroup, "from": its old one


def make_cgroup(processes: int) -> str:
    """A pids cgroup for this grading process (once; "" if none can be made). Its pids.max:
    `processes` for student code plus this process's tasks and a margin. Empty cgroups of
    grading processes that are gone (killed runs) are removed on the way. The move into it,
    join_cgroup(), is the slow step; leave_cgroup() moves back and removes it."""
    if "group" in _cgroup:
        return _cgroup["group"]
    for stale in CGROUP_PIDS.glob("grading-*"):
        try:
            pid = int(stale.name.split("-")[1])
            if pid != os.getpid() and not Path(f"/proc/{pid}").exists():
                os.rmdir(stale)  # fails while a process is in it
        except (ValueError, IndexError, OSError):
            pass
    group = CGROUP_PIDS / f"grading-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        group.mkdir()
        own = len(os.listdir("/proc/self/task"))
        (group / "pids.max").write_text(str(processes + own + 50))
    except OSError:
        return ""
    _cgroup.update(group=str(group), **{"from": _pids_cgroup_of("self") or str(CGROUP_PIDS)})
    import atexit

    atexit.register(leave_cgroup)  # whoever moves this process in (the compiler, or it)
    return str(group)


def _pids_cgroup_of(pid: str) -> str:
    try:
        for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
            _num, controllers, where = line.split(":", 2)
            if "pids" in controllers.split(","):
                return str(CGROUP_PIDS / where.lstrip("/"))
    except (OSError, ValueError):
        pass
    return ""


def join_cgroup(group: str, pid: int) -> None:
    """Move process `pid` into `group` (the grader itself, or precompile's compiler for it:
    the move waits for an RCU grace period, 5-20 ms here)."""
    try:
        Path(group, "cgroup.procs").write_text(str(pid))
    except OSError:
        pass


def in_cgroup(group: str) -> bool:
    return bool(group) and _pids_cgroup_of("self") == group


def leave_cgroup() -> None:
    """Back to the cgroup this process came from (a move: started by leave_cgroup_soon(),
    else made here), and the grading cgroup removed: its grading children are gone."""
    mover = _leaving.pop() if _leaving else None
    if mover is not None:
        mover.join()
    group = _cgroup.pop("group", "")
    if group:
        if in_cgroup(group):
            join_cgroup(_cgroup["from"], os.getpid())
        try:
            os.rmdir(group)
        except OSError:
            pass


_leaving: list = []  # the thread of leave_cgroup_soon()


def leave_cgroup_soon() -> None:
    """Start the move back, which waits in the kernel (5-20 ms), while reports are written."""
    group = _cgroup.get("group", "")
    if group and not _leaving and in_cgroup(group):
        import threading

        mover = threading.Thread(target=join_cgroup, args=(_cgroup["from"], os.getpid()),
                                 name="grader-cgroup", daemon=True)
        mover.start()
        _leaving.append(mover)


def readable_by_others(path: Path) -> bool:
    """Whether an unprivileged uid can read the folder (its modules are then used in place)."""
    return _closed(path) is None and bool(path.stat().st_mode & stat.S_IROTH)


# ------------------------------------------------------------------ inside the grading child
# enter() and drop_privileges() live in graders/_enter.py: this module's imports would cost
# every grading child ~15 ms.
from graders._enter import _expose, drop_privileges, enter  # noqa: E402,F401
