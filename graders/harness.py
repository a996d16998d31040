"""Run one scenario against student code in a child process, and clean up after it.

`run()` is the whole mechanism: start the grading child (graders/_child.py) in its own
session, hand it a request, wait at most `timeout` seconds, read its answer, then kill and
reap every process the student code left behind. On a timeout it first asks every process
in the tree to dump its threads' stacks (SIGUSR1), so the failure shows where each was stuck.

Limits live in LIMITS, in one place, and are printed in the report header.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import py_compile
import re
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from graders import contain, i18n, observe
from graders._perturb import GATE_LIMIT, GATE_STALL
from graders.i18n import _

KIT = Path(__file__).resolve().parent.parent
CHILD_ROOT = KIT  # where grading children import `graders` from; see use_copy_of_graders()
SCALE = float(os.environ.get("GRADER_TIMEOUT_SCALE", "1"))

LIMITS = {
    "timeout": 20.0 * SCALE,  # seconds one scenario may run, unless a test says otherwise
    "import_timeout": 10.0 * SCALE,  # seconds to import a student module
    "leak_grace": 1.0 * SCALE,  # seconds student threads/processes get to end after a call
    "output_chars": 4000,  # how much of a child's stdout/stderr a failure shows
    # processes student code may have at once (a fork bomb is stopped there)
    "processes": int(os.environ.get("GRADER_MAX_PROCESSES", "300")),
    # resident memory of all its processes together; 4x that is each one's address space
    # limit on POSIX (RLIMIT_AS), so a runaway allocation fails fast
    "memory_mb": int(os.environ.get("GRADER_MEMORY_MB", "2048")),
}
WATCH_EVERY = 0.05  # seconds between two looks at the process tree while student code runs
# What contains student code (graders/contain.py); the grading plugin probes it once per run.
CONTAINMENT = contain.Containment(why_not=("not probed",))
_IMPL_COPIES: dict[Path, Path] = {}  # implementation folder -> the copy children read


@dataclass
class Outcome:
    """What happened in the grading child. status: ok, error, todo, timeout, limit, crash or
    tampered (the child's seal on the graders' code broke)."""

    status: str
    value: object = None
    error: str = ""
    where: str = ""
    leaks: list = field(default_factory=list)
    other_methods: list = field(default_factory=list)  # start methods student code chose
    stdout: str = ""
    stderr: str = ""
    stacks: str = ""
    seconds: float = 0.0
    busy: tuple[float, float] | None = None  # on a timeout: CPU s used in the last s seen
    # seen by the grader from the OS, when the test asked (checks={"count_tasks": True}):
    # processes and threads created in the child's PID namespace over its life (None without
    # a namespace, or unasked), the shim and the worker not counted
    tasks_started: int | None = None
    pid: int = 0  # the grading child's (unshare's when contained), for bench/bench.py


def use_copy_of_graders(folder: Path) -> None:
    """Grading children import the graders from a private copy in `folder`, so student code
    that rewrites a grader file can only touch that copy (which is checked and put back
    after every test: restore())."""
    global CHILD_ROOT, _copy
    shutil.copytree(KIT / "graders", folder / "graders",  # children never translate: no locale
                    ignore=shutil.ignore_patterns("__pycache__", "test_*.py", "conftest.py",
                                                  "locale"))
    os.chmod(folder, 0o755)  # readable, never writable, by the throwaway uid
    CHILD_ROOT = folder
    _copy = {p: p.read_bytes() for p in _watched_files(folder / "graders")}


# What every grading child imports from the copy; a scenario brings its own module and, for
# the thread exercises, the scheduler.
CHILD_CORE = ("__init__.py", "_child.py", "_enter.py", "_guard.py", "_perturb.py", "_mark.py",
              "scenarios/__init__.py", "scenarios/common.py")
_copy: dict[Path, bytes] = {}  # the copy's files as they must stay, compiled ones too
_compiler: list | None = None  # start_compiler's: pid, its report, the fd asking it for more
_compiled: dict[Path, str] = {}  # what the compiler wrote: .pyc file -> its sha256
_tampered: list[str] = []  # compiled files changed before copy_ready(), for restore() to name
_first_child_ready = False  # the compiler is ready, this process in its cgroup


def start_compiler() -> None:
    """On Linux, while this process has one thread (not in an xdist worker), fork the compiler
    of the graders' copy as soon as the copy exists (see precompile): it first moves this
    process into its grading cgroup (contain.join_cgroup; a move waits 5-20 ms in the kernel)
    while it compiles CHILD_CORE, says "ready" (run() waits for that before the first grading
    child, which would otherwise compile the same modules itself), then compiles what
    precompile() asks for, and reports the hash of each file it wrote."""
    global _compiler
    import threading

    if (_compiler is not None or sys.pycache_prefix or sys.platform != "linux"
            or threading.active_count() != 1):
        return
    group = contain.make_cgroup(LIMITS["processes"]) if CONTAINMENT.cgroup else ""
    graders = CHILD_ROOT / "graders"
    report_r, report_w = os.pipe()
    wants_r, wants_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the compiler: nothing of pytest's runs here, not even its exit
        try:
            os.close(report_r)
            os.close(wants_w)
            mover = threading.Thread(target=contain.join_cgroup, args=(group, os.getppid()))
            if group:  # waits in the kernel while the core is compiled
                mover.start()
            done = _compile([graders / name for name in CHILD_CORE])
            if group:
                mover.join()
            os.write(report_w, b"ready\n")  # moved, and what every child imports compiled
            with os.fdopen(wants_r, "r", encoding="utf-8") as wants:
                more = [Path(line.rstrip("\n")) for line in wants]  # until the grader closes
            done.update(_compile([p for p in more if p not in done]))
            for pyc, sha in done.items():
                os.write(report_w, f"{sha} {pyc}\n".encode())
        finally:
            os._exit(0)
    os.close(report_w)
    os.close(wants_r)
    _compiler = [pid, os.fdopen(report_r, "r", encoding="utf-8"), wants_w]


def precompile(exercises: set[str]) -> None:
    """Compile into the copy's __pycache__, as the grader, once per run, what the grading
    children of `exercises` import: else each of them compiles _child.py, schedule.py and
    its scenario from source (10-20 ms), because it cannot write the cache (the throwaway
    uid) or may not (PYTHONDONTWRITEBYTECODE, which stops writing only, not reading); the
    modules no selected test needs are not compiled (a one-exercise grading compiles 9 or 10
    of the copy's 21). Checked-hash .pyc files, each written whole or not at all: a child
    uses one only while its source is byte for byte the one compiled, and compiles from
    source what is not there yet. The forked compiler (start_compiler) does it on the other
    core while pytest goes on; restore() then takes the files it reports as they must stay
    (copy_ready). Without one (an xdist worker, not Linux), it is done here, now."""
    graders = CHILD_ROOT / "graders"
    if sys.pycache_prefix:  # the children would look for them elsewhere
        return
    wanted = [graders / name for name in CHILD_CORE]
    for exercise in sorted(exercises):
        scenario = graders / "scenarios" / f"{exercise}.py"
        if scenario.exists():
            wanted.append(scenario)
            if "from graders import schedule" in scenario.read_text(encoding="utf-8"):
                wanted.append(graders / "schedule.py")
    wanted = sorted(set(wanted))
    start_compiler()
    if _compiler is not None and _compiler[2] >= 0:
        with os.fdopen(_compiler[2], "w", encoding="utf-8") as wants:
            wants.write("".join(f"{p}\n" for p in wanted))
        _compiler[2] = -1
    else:
        _compiled.update(_compile(wanted))
        copy_ready()


def _compile(paths: list[Path]) -> dict[Path, str]:
    import hashlib

    done = {}
    for path in paths:
        try:
            pyc = Path(py_compile.compile(
                str(path), doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH))
            done[pyc] = hashlib.sha256(pyc.read_bytes()).hexdigest()
        except (py_compile.PyCompileError, OSError):
            continue  # children compile it from source, as before
    for cache in (CHILD_ROOT / "graders").rglob("__pycache__"):
        os.chmod(cache, 0o755)
    return done


def _before_first_child() -> None:
    """Before its first grading child starts: the compiler is ready (start_compiler), and
    this process is in its grading cgroup (contain.make_cgroup), moved there by the compiler
    or here; the children are born in it. If it cannot be, the containment no longer claims
    the cgroup rung."""
    global CONTAINMENT, _first_child_ready
    _first_child_ready = True
    if _compiler is not None:
        _compiler[1].readline()  # "ready" (or "": the compiler ended)
    if not CONTAINMENT.cgroup:
        return
    group = contain.make_cgroup(LIMITS["processes"])
    if group and not contain.in_cgroup(group):
        contain.join_cgroup(group, os.getpid())
    if not contain.in_cgroup(group):
        contain.leave_cgroup()
        CONTAINMENT = dataclasses.replace(
            CONTAINMENT, cgroup=False,
            why_not=(*CONTAINMENT.why_not, "could not join a pids cgroup"))


def copy_ready() -> None:
    """Wait for precompile's compiler, if one runs; the files it says it wrote are, from
    then on, part of the copy as restore() keeps it, each only if it is still what the
    compiler wrote (student code may have run meanwhile: a changed one is removed, and the
    children compile that module from source)."""
    global _compiler
    if _compiler is not None:
        pid, report, wants = _compiler
        _compiler = None
        if wants >= 0:  # precompile never asked for more
            os.close(wants)
        for line in report:
            sha, _, path = line.rstrip("\n").partition(" ")
            if path:
                _compiled[Path(path)] = sha
        report.close()
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    import hashlib

    for pyc, sha in list(_compiled.items()):
        now = pyc.read_bytes() if pyc.exists() else b""
        if hashlib.sha256(now).hexdigest() == sha:
            _copy[pyc] = now
        else:
            pyc.unlink(missing_ok=True)
            _copy.pop(pyc, None)
            _tampered.append(pyc.relative_to(CHILD_ROOT).as_posix())
        del _compiled[pyc]


def compiler_pid() -> int | None:
    """The compiler's pid while it runs: reap_orphans() leaves it alone."""
    return _compiler[0] if _compiler is not None else None


def _watched_files(graders: Path) -> list[Path]:
    """The files of the graders' copy that restore() checks: sources and compiled modules."""
    return sorted(set(graders.rglob("*.py")) | set(graders.rglob("*.pyc")))


def restore() -> list[str]:
    """Put the copy's files back as they were, compiled modules (.pyc) too; name the ones
    that had changed (or appeared)."""
    if _compiler is not None:
        copy_ready()
    files, folder = _copy, CHILD_ROOT / "graders"
    changed, _tampered[:] = list(_tampered), []
    for path in sorted(set(_watched_files(folder)) | set(files)):
        now = path.read_bytes() if path.exists() else None
        if now != files.get(path):
            changed.append(path.relative_to(CHILD_ROOT).as_posix())
            if path in files:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(files[path])
            else:
                path.unlink()
    return changed


def _site(stacks: Path, perturb: list | None, gate: list | None = None) -> Path:
    """A read-only folder for one grading child, first on its PYTHONPATH: sitecustomize.py
    and its site.txt (where stacks go, whether spawned processes are perturbed: fields
    separated by NUL, read without json), so that no instrument of the grader has to live in
    the environment."""
    site = CHILD_ROOT / f"site-{secrets.token_hex(6)}"
    site.mkdir(mode=0o755)
    source = CHILD_ROOT / "graders" / "_boot" / "sitecustomize.py"
    shutil.copy(source, site)
    compiled = Path(importlib.util.cache_from_source(str(source)))
    if not sys.pycache_prefix and compiled.exists():  # every spawned process loads it
        cache = Path(importlib.util.cache_from_source(str(site / "sitecustomize.py")))
        cache.parent.mkdir(mode=0o755)
        shutil.copy(compiled, cache)
        os.chmod(cache, 0o644)
    fields = [str(stacks)] + ([str(perturb[0]), str(int(perturb[1]))] if perturb else [])
    if perturb and gate:
        fields += [str(field) for field in gate]
    (site / "site.txt").write_bytes(b"\0".join(os.fsencode(f) for f in fields))
    for name in ("sitecustomize.py", "site.txt"):
        os.chmod(site / name, 0o644)
    return site


def impl_for_children(impl: Path) -> Path:
    """The folder grading children import student modules from: `impl` itself, or, when the
    throwaway uid could not read it (a private home or pytest's tmp folder), a copy of its
    modules next to the graders' copy, made once per run. Feedback names the original."""
    if CONTAINMENT.uid is None or contain.readable_by_others(impl):
        return impl
    if impl not in _IMPL_COPIES:
        copy = CHILD_ROOT / f"impl-{len(_IMPL_COPIES)}"
        copy.mkdir(mode=0o755)
        for path in impl.glob("*.py"):
            shutil.copy(path, copy / path.name)
            os.chmod(copy / path.name, 0o644)
        _IMPL_COPIES[impl] = copy
    return _IMPL_COPIES[impl]


def make_subreaper() -> bool:
    """Linux: processes orphaned below us come back to us (and we reap them), not to init."""
    from graders._child import make_subreaper as _make

    return _make()


def _read(path: Path, limit: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    if len(text) > limit:
        text = text[: limit // 2] + "\n[... cut ...]\n" + text[-limit // 2 :]
    return text


def _processes(pids: list[int]) -> list[psutil.Process]:
    """psutil's handles on `pids`, those that still exist."""
    found = []
    for pid in pids:
        try:
            found.append(psutil.Process(pid))
        except psutil.Error:
            continue
    return found


def _tree(pid: int) -> list[psutil.Process]:
    return _processes([pid, *observe.children(pid, recursive=True)])


def _dump_stacks(procs: list[psutil.Process], folder: Path) -> str:
    """SIGUSR1 to every process, then collect what their faulthandlers wrote.

    Processes stuck in the same place are shown once, with a count."""
    if not hasattr(signal, "SIGUSR1"):
        return ""
    sizes = {path: path.stat().st_size for path in folder.glob("*.txt")}
    for p in procs:
        try:
            p.send_signal(signal.SIGUSR1)
        except psutil.Error:
            pass
    # Wait until the processes' faulthandlers have written (a loaded machine is slow to run
    # them: a CI run once got none in 1.5 s), every file grown and none still growing, at most
    # 1.5 s once one has written, and at most 6 s for the first.
    started, last = time.monotonic(), None
    while time.monotonic() < started + 6 * SCALE:
        time.sleep(0.1)
        now = {path: path.stat().st_size for path in folder.glob("*.txt")}
        grown = sum(now[path] > sizes.get(path, 0) for path in now)
        if grown >= len(procs) - 1 and now == last:  # the shim ignores SIGUSR1
            break
        if grown and time.monotonic() > started + 1.5:
            break
        last = now
    groups: dict[str, list[str]] = {}
    for path in sorted(folder.glob("*.txt")):  # named by pids as each process sees its own
        text = _read(path, 3000).strip()
        if text:
            key = re.sub(r"0x[0-9a-f]+", "0x...", text)
            groups.setdefault(key, []).append(path.stem)
    parts = []
    for text, pids in groups.items():
        if "graders/_child.py" in text and len(pids) == 1:
            who = _("the grading child, which called your code")
        elif len(pids) == 1:
            who = _("a process started by your code")
        else:
            who = _("{count} processes started by your code, all stuck here").format(
                count=len(pids))
        parts.append(f"--- {who} ---\n{text}")
    return "\n".join(parts)


class CpuWatch:
    """CPU time of the grading child's whole tree, sampled from outside about every 0.5 s,
    so that a timeout can tell busy (a loop, or slow work) from blocked (waiting forever)."""

    def __init__(self):
        self.samples: list[tuple[float, float]] = []

    def sample(self, pid: int, tree: list[psutil.Process] | None = None) -> None:
        """Add a sample (at most one each 0.5 s) from `tree`, the tree under `pid` just read."""
        now = time.monotonic()
        if self.samples and now - self.samples[-1][0] < 0.5:
            return
        total = 0.0
        for p in _tree(pid) if tree is None else tree:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        self.samples = [x for x in self.samples if now - x[0] < 3.0] + [(now, total)]

    def recent(self) -> tuple[float, float] | None:
        """(CPU seconds, over how many seconds) for the last ~2 s before the timeout."""
        if len(self.samples) < 2:
            return None
        (t0, c0), (t1, c1) = self.samples[0], self.samples[-1]
        return (max(0.0, c1 - c0), t1 - t0) if t1 > t0 else None


def _ppid(p: psutil.Process) -> int | None:
    try:
        return p.ppid()
    except psutil.Error:
        return None


def _over_limits(pid: int, tree: list[psutil.Process] | None = None) -> str:
    """What limit the tree under `pid` (`tree`, when just read) breaks right now, if any."""
    tree = _tree(pid) if tree is None else tree
    if len(tree) > LIMITS["processes"]:
        return _("your code started more than {limit} processes at once (a fork bomb?), so "
                 "all of them were killed").format(limit=LIMITS["processes"])
    rss = 0
    for p in tree:
        try:
            rss += p.memory_info().rss
        except psutil.Error:
            pass
    if rss > LIMITS["memory_mb"] * 1024 * 1024:
        return _("your code used more than {limit} MB of memory ({used} MB), so it was "
                 "killed").format(limit=LIMITS["memory_mb"], used=rss // 2**20)
    return ""


def _signal_all(proc: subprocess.Popen, procs: list[psutil.Process], sig: int) -> None:
    if os.name == "posix":
        try:
            os.killpg(proc.pid, sig)  # the child's session: all that did not setsid away
        except OSError:
            pass
    elif proc.poll() is None:
        proc.kill()
    for p in procs:
        try:
            p.send_signal(sig)
        except psutil.Error:
            pass


def _session_empty(proc: subprocess.Popen) -> bool:
    if proc.poll() is None:
        return False
    if os.name != "posix":
        return True
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return True
    return False


def kill_tree(proc: subprocess.Popen, descendants: list[psutil.Process]) -> None:
    """End the grading child, its session and every descendant found, then reap them.

    SIGTERM first, with up to 0.5 s to go (coverage saves its data then), then SIGKILL again
    and again until the session is empty: a fork bomb cannot outrun it."""
    _signal_all(proc, descendants, signal.SIGTERM)
    _gone, alive = psutil.wait_procs(descendants, timeout=0.5 if descendants else 0)
    if proc.poll() is None:
        try:
            proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass
    kill = getattr(signal, "SIGKILL", signal.SIGTERM)
    for _round in range(200):
        _signal_all(proc, alive, kill)
        reap_orphans()
        if _session_empty(proc):
            break
        time.sleep(0.01)
    proc.wait()
    reap_orphans()


def reap_orphans() -> None:
    """Kill and reap any process that ended up as our child (orphans come to a subreaper)."""
    compiler = compiler_pid()
    for p in _processes([c for c in observe.children(os.getpid()) if c != compiler]):
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                p.kill()
            p.wait(timeout=2)
        except psutil.Error:
            pass


HELPERS = ("from multiprocessing.forkserver import main",
           "from multiprocessing.resource_tracker import main")


def _exit_fd(proc: subprocess.Popen) -> int:
    """A file descriptor that becomes readable when the grading child ends (a pidfd: Linux
    5.3+, Python 3.9+), so the wait needs no polling; -1 where there is none."""
    try:
        return os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        return -1


def _worker(proc: subprocess.Popen) -> psutil.Process | None:
    """The grading child's worker, the process that runs student code: the only child of the
    shim (which is PID 1 of the namespace, below `unshare`, when contained)."""
    try:
        shim = proc.pid
        if CONTAINMENT.pid_namespace:
            shim = observe.children(shim)[0]
        kids = observe.children(shim)
        return psutil.Process(kids[0]) if len(kids) == 1 else None
    except (psutil.Error, IndexError):
        return None


def tasks_started(proc: subprocess.Popen) -> int | None:
    """How many processes and threads were created in the grading child's PID namespace so
    far, the shim and the worker aside: the namespace hands out ids 1, 2, 3, ... in order,
    to threads too, and its last one is read from inside it by a `cat` the grader starts
    there (nsenter)."""
    nsenter = shutil.which("nsenter")
    if not CONTAINMENT.pid_namespace or not nsenter:
        return None
    try:
        init = observe.children(proc.pid)[0]  # PID 1 of the namespace
        out = subprocess.run([nsenter, "-t", str(init), "-p", "-m", "cat",
                              "/proc/sys/kernel/ns_last_pid"], capture_output=True,
                             text=True, timeout=5, stdin=subprocess.DEVNULL)
        return int(out.stdout.strip()) - 3 if out.returncode == 0 else None  # shim, worker, cat
    except (psutil.Error, IndexError, ValueError, OSError, subprocess.SubprocessError):
        return None


def processes_left(worker: psutil.Process | None, grace: float) -> list[str]:
    """Seen by the grader, from the OS's process table: the processes student code left
    below the worker (running or zombie), waiting up to `grace` s for them to end.
    multiprocessing's own forkserver and resource tracker are no leak."""
    deadline = time.monotonic() + grace
    while True:
        running, zombies = [], []
        below = _processes(observe.children(worker.pid, recursive=True)) if worker else []
        for p in below:
            try:
                if any(h in " ".join(p.cmdline()) for h in HELPERS):
                    continue
                (zombies if p.status() == psutil.STATUS_ZOMBIE else running).append(p.pid)
            except psutil.ZombieProcess:
                zombies.append(p.pid)
            except psutil.Error:
                continue
        if (not running and not zombies) or time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    found = []
    if running:
        found.append(_("{count} child process(es) still running").format(count=len(running)))
    if zombies:
        found.append(_("{count} zombie process(es) that were never joined").format(
            count=len(zombies)))
    return found


def left_behind(proc: subprocess.Popen, result: Path, checks: dict,
                observed: bool) -> list[str] | None:
    """Seen by the grader from the OS while the worker waits on `go`, with one grace for all:
    processes and zombies (processes_left), and on Linux (`observed`) its threads and the
    listening sockets of its tree (graders/observe.py). The worker's own list of its threads
    (in its result file) only names them. None when the worker cannot be looked at."""
    deadline = time.monotonic() + LIMITS["leak_grace"]
    worker = _worker(proc)
    watch = observe.Watch(worker.pid) if observed and worker else None
    found = processes_left(worker, LIMITS["leak_grace"]) if checks.get("processes", True) else []
    if not observed:
        return found
    try:
        named = json.loads(result.read_text()).get("threads")
    except (OSError, ValueError, AttributeError):
        named = None
    seen = watch.leaks(deadline, checks, named if isinstance(named, dict) else {}) \
        if watch else None
    return None if seen is None else found + [describe_leak(x) for x in seen]


def _thread_words(leak: dict) -> str:
    """The threads the grader counted from the OS, named as the worker listed them."""
    seconds, parts = float(leak.get("seconds", 0)), []
    for (name, daemon), cpu in zip(leak.get("names", []), leak.get("cpu", []), strict=False):
        how = [_("daemon")] if daemon else []
        how.append(_("busy: {cpu:.2f} s of CPU in {seconds:.1f} s").format(
            cpu=cpu, seconds=seconds) if observe.busy(cpu, seconds) else _("idle"))
        who = repr(name) if name is not None else _("a thread threading.enumerate() does not list")
        parts.append(_("{thread} ({how})").format(thread=who, how=_(", ").join(how)))
    return _(", ").join(parts)


def describe_leak(leak) -> str:
    """One thing a grading child found left behind (graders/_child.py find_leaks), in words."""
    if not isinstance(leak, dict):
        return str(leak)
    kind, count = leak.get("kind"), leak.get("count", 0)
    # Threads and sockets are read from the OS by the grader on Linux; elsewhere the grading
    # child's own report stands, and the feedback says so.
    told = "" if leak.get("seen") == "os" else _(" (as the grading child reported it: this "
                                                 "platform does not let the grader look)")
    if kind == "threads" and leak.get("seen") == "os":
        return _("{count} thread(s) still running: {names}").format(
            count=count, names=_thread_words(leak))
    if kind == "threads":
        names = ", ".join(f"{name!r}" + (_(" (daemon)") if daemon else "")
                          for name, daemon in leak.get("names", []))
        return _("{count} thread(s) still running: {names}").format(count=count,
                                                                   names=names) + told
    if kind == "running":
        return _("{count} child process(es) still running (pids {pids})").format(
            count=count, pids=leak.get("pids"))
    if kind == "zombies":
        return _("{count} zombie process(es) that were never joined (pids {pids})").format(
            count=count, pids=leak.get("pids"))
    if kind == "sockets":
        return _("{count} listening socket(s) left open ({where})").format(
            count=count, where=", ".join(leak.get("where", []))) + told
    return str(leak)


def _bench_record(run_scenario):
    """bench/bench.py's measuring hook, off unless KIT_BENCH_LOG names a file: each run()
    then appends one JSON line to it: the test (pytest's PYTEST_CURRENT_TEST), the scenario,
    the grading child's pid (the bench counts the interpreters below it from the kernel's
    process accounting), the wall seconds, and the CPU seconds of the grading child and
    every process below it (RUSAGE_CHILDREN: run() reaps them all, the PID namespace's
    included) and of this process meanwhile (the harness's own watching)."""
    import functools

    @functools.wraps(run_scenario)
    def measured(scenario, *args, **kwargs):
        log = os.environ.get("KIT_BENCH_LOG")
        if not log:
            return run_scenario(scenario, *args, **kwargs)
        import resource

        def cpu(who: int) -> float:
            usage = resource.getrusage(who)
            return usage.ru_utime + usage.ru_stime

        wall, below, mine = time.monotonic(), cpu(resource.RUSAGE_CHILDREN), cpu(
            resource.RUSAGE_SELF)
        out = None
        try:
            out = run_scenario(scenario, *args, **kwargs)
            return out
        finally:
            record = {"test": os.environ.get("PYTEST_CURRENT_TEST", ""),
                      "scenario": f"{scenario.__module__}:{scenario.__name__}",
                      "pid": out.pid if out else 0, "status": out.status if out else "raised",
                      "wall": round(time.monotonic() - wall, 4),
                      "cpu": round(cpu(resource.RUSAGE_CHILDREN) - below, 4),
                      "grader_cpu": round(cpu(resource.RUSAGE_SELF) - mine, 4)}
            with open(log, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    return measured


@_bench_record
def run(scenario, *args, impl: Path, start_method: str | None = None,
        timeout: float | None = None, checks: dict | None = None,
        perturb: int | None = None, gate: int | None = None) -> Outcome:
    """Call `scenario(*args)` (a function in graders.scenarios) in a fresh grading child.

    With `perturb` (a seed), student code is paused at random bytecodes (see _perturb); with
    `gate` too, the first `gate` processes student code starts begin their student code
    together (_perturb._wait_at_gate)."""
    timeout = timeout or LIMITS["timeout"]
    if not _first_child_ready:
        _before_first_child()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        stacks = tmp / "stacks"
        stacks.mkdir()
        nonce = secrets.token_hex(16)
        plan, _granted = contain.plan(CONTAINMENT, grant=[tmp])
        request = {
            "impl": str(impl_for_children(Path(impl))),
            "scenario": f"{scenario.__module__}:{scenario.__name__}",
            "args": list(args),
            "start_method": start_method,
            "nonce": nonce,
            "result_path": str(tmp / "result.json"),
            "checks": checks or {},
            "grace": LIMITS["leak_grace"],
            "perturb": perturb,
            # where, how many, and (scaled like every wait) the stall and the limit
            "gate": [str(tmp), gate, GATE_STALL * SCALE, GATE_LIMIT * SCALE]
            if perturb is not None and gate else None,
            "limits": LIMITS,
            "contain": plan.as_dict(),
        }
        # The worker says "result written" on `ready` and waits until the grader, having
        # looked at the process table itself, closes `go` (POSIX: pass_fds).
        outside = os.name == "posix" and any((checks or {}).get(k, True)
                                             for k in ("processes", "threads", "sockets"))
        observed = outside and observe.available()  # threads and sockets too (Linux)
        if outside:
            ready_r, ready_w = os.pipe()
            go_r, go_w = os.pipe()
            request.update(ready_fd=ready_w, go_fd=go_r, outside_processes=True,
                           observe=observed)
        env = dict(os.environ)
        site = _site(stacks, None if perturb is None else
                     [str(impl_for_children(Path(impl))), perturb], request["gate"])
        env["PYTHONPATH"] = os.pathsep.join([str(site), str(CHILD_ROOT)])
        env["PYTHONFAULTHANDLER"] = "1"
        env["PYTHONSAFEPATH"] = "1"  # 3.11+: no working directory on sys.path, spawned too
        # Never a .pyc written into the graders' copy (restore() would take it for student
        # code's) or the student's folder; the copy's own are where the grader put them.
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        # Temporary files of student code (multiprocessing's pymp-* folders, whose owners are
        # killed before they can remove them) go into this grading's folder, removed below.
        env["TMPDIR"] = str(tmp)
        for name in ("PYTHONSTARTUP", "PYTHONHOME", "PYTHONUSERBASE", "PYTHONINSPECT",
                     "PYTHONPYCACHEPREFIX"):
            env.pop(name, None)
        posix = os.name == "posix"
        with open(tmp / "stdout", "wb") as out, open(tmp / "stderr", "wb") as err:
            proc = subprocess.Popen(
                contain.command(CONTAINMENT, [sys.executable, "-c",
                                              "from graders._child import main; main()"]),
                stdin=subprocess.PIPE, stdout=out, stderr=err, cwd=tmp, env=env,
                start_new_session=posix,
                creationflags=0 if posix else subprocess.CREATE_NEW_PROCESS_GROUP,
                pass_fds=(ready_w, go_r) if outside else (),
            )
            if outside:
                os.close(ready_w)
                os.close(go_r)
            started = time.monotonic()
            timed_out, dumped, broke, left = False, "", "", None
            cpu, busy = CpuWatch(), None
            started_so_far = None
            go_w = go_w if outside else -1
            exited = _exit_fd(proc)
            try:
                try:
                    proc.stdin.write((json.dumps(request) + "\n").encode())
                    proc.stdin.close()
                except OSError:
                    pass
                deadline = started + timeout
                while proc.poll() is None and not broke:
                    if time.monotonic() > deadline:
                        timed_out = True
                        busy = cpu.recent()
                        dumped = _dump_stacks(_tree(proc.pid), stacks)
                        break
                    # Woken by the OS when the child ends or the worker is ready, else after
                    # WATCH_EVERY s; without a pidfd (macOS, old kernels) proc.wait() polls.
                    waits = [fd for fd in (exited, ready_r if go_w >= 0 else -1) if fd >= 0]
                    if waits:
                        ready = select.select(waits, [], [], WATCH_EVERY)[0]
                    else:
                        try:
                            ready = [proc.wait(timeout=WATCH_EVERY)]
                        except subprocess.TimeoutExpired:
                            ready = []
                    if not ready:  # still running: one walk of its tree for both watches
                        tree = _tree(proc.pid)
                        cpu.sample(proc.pid, tree)
                        broke = _over_limits(proc.pid, tree)
                        continue
                    if go_w >= 0 and ready_r in ready:  # "result written", or the worker's
                        # end closed unsaid
                        if os.read(ready_r, 1):
                            if (checks or {}).get("count_tasks"):  # an exec: only
                                started_so_far = tasks_started(proc)  # if asked
                            left = left_behind(proc, tmp / "result.json", checks or {},
                                               observed)
                            deadline = min(deadline, time.monotonic() + 10 * SCALE)
                        os.close(go_w)
                        go_w = -1
            finally:  # also when pytest-timeout or Ctrl-C interrupts the wait
                kill_tree(proc, _tree(proc.pid)[1:])
                shutil.rmtree(site, ignore_errors=True)
                if outside:
                    os.close(ready_r)
                if go_w >= 0:
                    os.close(go_w)
                if exited >= 0:
                    os.close(exited)
        outcome = Outcome(
            status="timeout" if timed_out else "crash",
            stdout=_read(tmp / "stdout", LIMITS["output_chars"]),
            stderr=_read(tmp / "stderr", LIMITS["output_chars"]),
            stacks=dumped,
            seconds=time.monotonic() - started,
            pid=proc.pid,
        )
        outcome.busy = busy
        if timed_out:
            outcome.error = _("timed out after {seconds:g} s").format(seconds=timeout)
            return outcome
        if broke:
            outcome.status, outcome.error = "limit", broke
            return outcome
        try:
            answer = json.loads((tmp / "result.json").read_text())
        except (OSError, ValueError):
            answer = None
        # The shim exits with the worker's status, 0 after a report; anything else means
        # student code killed it (its parent) or the session, even if a report got out.
        if not isinstance(answer, dict) or answer.get("nonce") != nonce or proc.returncode:
            code = proc.returncode
            how = (_("killed by signal {signal}").format(signal=-code) if code < 0
                   else _("exit status {code}").format(code=code))
            reported = isinstance(answer, dict) and answer.get("nonce") == nonce
            outcome.error = (_("the grading child ended ({how}) while your code ran") if reported
                             else _("the grading child ended ({how}) before it reported a "
                                    "result")).format(how=how)
            return outcome
        outcome.status = str(answer.get("status"))
        tampered = answer.get("tampered")
        if tampered:  # the child's seal broke: code of the graders' was patched while it ran
            outcome.status = "tampered"
            outcome.error = ", ".join(map(str, tampered[:5])) if isinstance(
                tampered, list) else str(tampered)[:200]
            return outcome
        outcome.value = answer.get("value")
        outcome.error = str(answer.get("error", ""))
        outcome.where = str(answer.get("where", ""))
        leaks = answer.get("leaks")
        outcome.leaks = [describe_leak(x) for x in leaks] if isinstance(leaks, list) else []
        methods = answer.get("other_methods")
        outcome.other_methods = [str(m) for m in methods] if isinstance(methods, list) else []
        if outside and outcome.status == "ok":
            if left is None:
                outcome.status = "crash"
                outcome.error = _("the grading child reported a result but never let the "
                                  "grader look at its processes (did your code close file "
                                  "descriptors it did not open?)")
                return outcome
            outcome.leaks += left
            outcome.tasks_started = started_so_far
        return outcome


# --------------------------------------------------------------------------- for graders


def _lines_of(path: Path, wheres: set) -> dict[str, str]:
    """The source of the lines the events name ("line 12" -> its code)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return {}
    found = {}
    for where in wheres:
        number = where.removeprefix("line ")
        if number.isdigit() and 0 < int(number) <= len(lines):
            found[where] = lines[int(number) - 1].strip()[:80]
    return found


def _busy_or_blocked(busy: tuple[float, float] | None) -> str:
    """What the CPU use seen from outside says about a timeout."""
    if busy is None:
        return _("A deadlock, a join on a process that cannot end, or an endless loop.")
    used, seconds = busy
    if used > 0.3 * seconds:
        return _("Your processes were busy until the end ({used:.1f} s of CPU in the last "
                 "{seconds:.1f} s): an endless loop, a loop that waits without blocking, or "
                 "work far slower than needed.").format(used=used, seconds=seconds)
    return _("Your processes were blocked, not working ({used:.2f} s of CPU in the last "
             "{seconds:.1f} s): something waits forever, a deadlock, a join on a process that "
             "cannot end, or a get() on a queue nobody puts on. The stacks below show where."
             ).format(used=used, seconds=seconds)


def fingerprint(graders: Path) -> str:
    """SHA-256 over the grader files in `graders` (names and contents), so that a modified
    grader shows in every report; a release prints the same for the graders it writes."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(graders.rglob("*.py")):
        digest.update(path.relative_to(graders).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    import hashlib

    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def fail(message: str):
    """Fail the current test with feedback meant for a student (no grader traceback)."""
    import pytest

    pytest.fail(message, pytrace=False)


def _section(title: str, text: str) -> str:
    text = text.strip()
    return f"\n\n{title}:\n{text}" if text else ""


class Student:
    """One exercise of the implementation under grading, as the tests see it."""

    def __init__(self, exercise: str, impl: Path, seed: int, probe: dict, perturb: bool = True):
        self.exercise = exercise
        self.perturb = perturb
        self.impl = impl
        self.seed = seed
        self.probe = probe
        self.test_id = exercise  # set by the plugin: <exercise>-<test function>[params]
        self.nodeid = ""
        self.reports = Path("reports")  # where schedules/ and timelines/ go
        self.replay: dict | None = None  # the saved schedule of this test, with --replay
        self.notes: list[tuple[str, object]] = []  # reach results.json's extra_data
        self.last: Outcome | None = None  # of the latest run()

    def schedules(self, r: dict, what: str, rule: str) -> bool:
        """Judge a controlled search (graders/schedule.explore, run in the grading child):
        fail with the interleaving, drawn as per-thread lanes, when a schedule broke the
        code; keep that schedule for --replay and as a timeline page. `rule` says what the
        code must do instead. Returns False when the scheduler could not control the code
        (a primitive it does not model): the test then judges by its stress run instead."""
        from graders import schedule

        self.notes.append(("schedules", {k: r.get(k) for k in ("schedules", "executions", "k",
                                                               "n", "bound", "pct_runs")}))
        if self.replay is not None:
            replayed = r.get("replayed") or {}
            if replayed.get("diverged"):
                fail(_("the replay of {file} diverged {where}: your code, or the Python "
                       "running it, is not the one that failed (after a fix, grade without "
                       "--replay).").format(
                           file=self.replay["path"], where=replayed["diverged"]))
            if not r.get("found"):
                return True  # the saved schedule no longer breaks the code
        found = r.get("found")
        if r.get("uncontrolled") and not found:
            # Not the student's fault: the test falls back to its stress run (returns False).
            self.notes.append(("uncontrolled", r["uncontrolled"][:500]))
            return False
        if not found:
            return True
        module = self.impl / f"{self.exercise}.py"
        record = {
            "test": self.test_id, "nodeid": self.nodeid, "python": sys.version.split()[0],
            "module_sha256": _sha256(module), "strategy": found.get("strategy"),
            "found_by": found.get("found_by"), "seed": self.seed,
            "choices": found["choices"], "digest": found["digest"], "events": found["events"],
            "complaint": found["complaint"], "preemptions": found["preemptions"],
            "schedules": r.get("schedules"), "k": r.get("k"), "n": r.get("n"),
            "source": _lines_of(module, {e[3] for e in found["events"]}),
        }
        complaint = schedule.word(found["complaint"])
        record["complaint"] = complaint
        json_path, page = schedule.save(self.reports, self.test_id, record)
        _marked, diagnosis = schedule.conflict(found["events"])
        fail(_("{what} {complaint} when its threads ran in this order (found among {n} "
               "schedule(s) the graders tried, shrunk to {p} preemption(s)): {diagnosis}.\n"
               "{rule}\n\n{lanes}\n\n(<< marks the steps that conflict.) Replay exactly this "
               "schedule: nox -s grade -- --replay {json}{page}").format(
                   what=what, complaint=complaint, n=r.get("schedules"),
                   p=found["preemptions"], diagnosis=diagnosis, rule=rule,
                   lanes=schedule.lanes(found), json=json_path,
                   page=_("; see it drawn in {page}").format(page=page) if page else ""))

    def require(self) -> None:
        """Fail at once when the module is missing, does not import, or is still the stub."""
        state = self.probe.get("state")
        name = f"{self.exercise}.py"
        if state == "missing":
            fail(_("{module} is missing from {folder}: nothing to grade for {exercise} (0 "
                   "points). Create it with the functions of the exercise.").format(
                module=name, folder=self.impl, exercise=self.exercise))
        if state == "timeout":
            fail(_("importing {module} did not finish within {seconds:g} s: code at module "
                   "level must not block or loop; put demo code under "
                   "`if __name__ == '__main__':`.").format(module=name,
                                                          seconds=LIMITS["import_timeout"]))
        if state != "ok":
            error = self.probe.get("error")
            patched = self.probe.get("patched")
            if patched and self.probe.get("then_failed"):
                error = _("it replaces {names} at import (and then fails): a module must not "
                          "patch Python's builtins or standard library").format(
                    names=", ".join(patched))
            elif patched:
                error = _("it replaces {names} at import: a module must not patch Python's "
                          "builtins or standard library").format(names=", ".join(patched))
            fail(_("importing {module} failed: {error}").format(module=name, error=error)
                 + _section(_("where"), self.probe.get("where", "")))
        functions, stubs = self.probe["functions"], self.probe["stubs"]
        if functions and len(stubs) == len(functions):
            fail(_("{module} is still the stub: every function raises NotImplementedError "
                   "({functions}). Implement them to earn these points.").format(
                module=name, functions=", ".join(stubs)))

    def run(self, scenario, *args, start_method: str | None = None,
            timeout: float | None = None, checks: dict | None = None, what: str | None = None,
            perturb: bool = False, gate: int | None = None):
        """Run a scenario in a grading child; return its value, or fail with feedback.

        `what` names the code under test in the feedback (default: "your code").
        perturb=True pauses student code between random bytecodes (seeded by self.seed)
        unless the run has --no-perturb; gate=N then starts the student code of the first N
        processes it starts together."""
        what = what or _("your code")
        out = run(scenario, *args, impl=self.impl, start_method=start_method,
                  timeout=timeout and timeout * SCALE, checks=checks,
                  perturb=self.seed if perturb and self.perturb else None, gate=gate)
        self.last = out
        output = (_section(_("your code printed"), out.stdout)
                  + _section(_("stderr"), out.stderr))
        if out.status == "todo":
            fail(_("{what} is not implemented yet ({hint})").format(
                what=what, hint=i18n.known(out.error)) + _section(_("raised at"), out.where))
        if out.status == "error":
            fail(_("{what} raised {error}").format(what=what, error=i18n.tr_error(out.error))
                 + _section(_("traceback"), out.where) + output)
        if out.status == "timeout":
            fail(_("{what} {error}: it never returned.").format(what=what, error=out.error)
                 + " " + _busy_or_blocked(out.busy)
                 + _section(_("where each thread was stuck"), out.stacks or out.stderr))
        if out.status == "tampered":
            fail(_("{what} changed code the graders run in the grading child while it ran "
                   "({names}): what the grader would have read there can no longer be "
                   "trusted, so this test gets no points. Graded code must not patch, replace "
                   "or reload the graders' modules or the standard library they use.").format(
                what=what, names=out.error)
                 + output)
        if out.status == "limit":
            fail(_("{what}: {error}.").format(what=what, error=out.error) + output)
        if out.status != "ok":
            fail(_("{what}: {error}; student code must not exit or kill the process that "
                   "calls it.").format(what=what, error=out.error) + output)
        if out.other_methods:
            fail(_("{what} started processes with the {methods} start method while this test "
                   "runs under {wanted}: use the default one (multiprocessing.Process, Lock, "
                   "Queue ... or multiprocessing.get_context() with no argument); the graders "
                   "choose it, to test your code under every method.").format(
                what=what, methods=", ".join(out.other_methods), wanted=start_method))
        if out.leaks:
            fail(_("{what} returned but left things behind: {leaks}. Join every process and "
                   "let every thread end before returning.").format(
                what=what, leaks=_("; ").join(out.leaks)))
        return out.value
