"""The grading child: the only process in which student code runs.

The harness starts `python -c "from graders._child import main; main()"` in a new session,
writes one JSON request line on its stdin and waits. The child:

1. reads the request, then points stdin at /dev/null (student code cannot read it);
2. forks once and waits as a shim (student code that kills its parent hits the shim, not
   pytest); the worker below makes itself a child subreaper (Linux), so processes orphaned
   by student code come back to it, and sets the OS limits. Stack dumps on SIGUSR1 were
   installed at start-up by graders/_boot/sitecustomize.py;
3. sets the multiprocessing start method (when the request names one), imports the scenario,
   puts the implementation folder first on sys.path;
4. calls the scenario (a function in graders/scenarios/), which calls the student code and
   returns plain data (JSON) describing what it observed;
5. checks what the student code left behind (threads, processes, zombies, listening sockets)
   where the grader cannot see it from outside; on Linux the grader reads all four from the
   OS while this process waits on `go` (step 6), and gets only the names of its threads;
6. checks the seal taken just before the scenario ran (seal(): the graders' own functions and
   modules in this process unchanged), writes {"nonce", "status", "value", "leaks",
   "tampered", ...} to the result file and leaves with os._exit, so no atexit handler or
   non-daemon child of the student can hold it.

The verdict is made by the grading process from that data, never here.
"""

from __future__ import annotations

import builtins
import importlib
import json
import os
import signal
import sys
import threading
import time
import types

# Imported only when needed, so that a child pays only for what it uses: traceback (when
# student code raised), multiprocessing (when the request sets a start method, or the scenario
# imports it), ctypes (Linux: prctl), resource (the limits).


def make_subreaper() -> bool:
    """Linux: orphaned descendants are re-parented to this process, not to init."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER


def _student_frames(tb, impl: str) -> str:
    """The traceback, keeping only frames from the implementation folder when there are any."""
    try:
        traceback = trusted_import("traceback")
    except Exception:  # noqa: BLE001 - e.g. MemoryError under RLIMIT_AS: the status stands
        return ""
    frames = traceback.extract_tb(tb)
    mine = [f for f in frames if os.path.abspath(f.filename).startswith(impl + os.sep)]
    return "".join(traceback.format_list(mine or frames))


def _helper_pids() -> set[int]:
    """multiprocessing's own long-lived helpers (forkserver, resource tracker) are no leak."""
    pids = set()
    forkserver = sys.modules.get("multiprocessing.forkserver")  # loaded only if ever used
    tracker = sys.modules.get("multiprocessing.resource_tracker")
    try:
        if forkserver:
            pids.add(forkserver._forkserver._forkserver_pid)
        if tracker:
            pids.add(tracker._resource_tracker._pid)
    except AttributeError:
        pass
    return {p for p in pids if p}


def trusted_import(name: str):
    """Import a module the harness relies on, never a same-named file of the student's."""
    saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _IMPL[0]]
    try:
        return importlib.import_module(name)
    finally:
        sys.path[:] = saved


_IMPL = [""]  # the implementation folder, set by main()
_OTHER_METHODS: list[str] = []  # start methods student code chose itself (_watch_start_methods)


_STARTS: list = []  # callables told of every process started here (observe_starts)
_start_wrapped = False  # BaseProcess.start is wrapped for them (once)


def observe_starts(observer) -> callable:
    """Tell `observer(process)` of every multiprocessing process started in this process, just
    before it starts, until the returned undo is called. One wrapper of BaseProcess.start
    serves every observer (the start-method check below, ipc's count of processes)."""
    global _start_wrapped
    import functools
    import multiprocessing.process

    base = multiprocessing.process.BaseProcess
    if not _start_wrapped:
        real = base.start

        @functools.wraps(real)
        def start(self):
            for observe in tuple(_STARTS):
                observe(self)
            return real(self)

        del start.__wrapped__  # looks like the real one
        base.start = start
        _start_wrapped = True
    _STARTS.append(observer)
    return lambda: _STARTS.remove(observer)


def _watch_start_methods(wanted: str) -> None:
    """The contract has student code use the default start method, which the grader sets
    (`wanted`). Every process that student code starts here with another one, from
    multiprocessing.get_context("fork") or its own set_start_method(), is noted, for the grader
    to fail the test with: testimony, which honest code does not dodge."""

    def note(process) -> None:
        method = getattr(process, "_start_method", None)
        if method is None:
            import multiprocessing

            method = multiprocessing.get_start_method(allow_none=True)
        if method and method != wanted and method not in _OTHER_METHODS and _by_student():
            _OTHER_METHODS.append(method)

    observe_starts(note)


def _by_student() -> bool:
    """Whether student code is on the stack of this call."""
    frame = sys._getframe(2)
    while frame is not None:
        if os.path.abspath(frame.f_code.co_filename).startswith(_IMPL[0] + os.sep):
            return True
        frame = frame.f_back
    return False



def children_of(pid: int) -> list[int] | None:
    """The pids of `pid`'s children (zombies included), from the kernel's lists in
    /proc/<pid>/task/<tid>/children (Linux 3.5+, one small file per thread); [] once `pid`
    has ended, None where the kernel keeps no such lists (then psutil must answer)."""
    if not os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children"):
        return None
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found = []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(k) for k in f.read().split()]
        except (OSError, ValueError):
            continue
    return found


def _descendants() -> list[tuple[int, bool]]:
    """(pid, is_zombie) of every process below this one. Linux reads /proc directly (fast,
    no psutil import in every child); elsewhere psutil answers."""
    if children_of(os.getpid()) is not None:
        found, todo = [], [os.getpid()]
        while todo:
            for kid in children_of(todo.pop()) or []:
                try:
                    with open(f"/proc/{kid}/stat") as f:
                        zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
                except (OSError, IndexError):
                    continue
                found.append((kid, zombie))
                todo.append(kid)
        return found
    psutil = trusted_import("psutil")
    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            out.append((p.pid, p.status() == psutil.STATUS_ZOMBIE))
        except psutil.Error:
            pass
    return out


def _listening() -> list[str]:
    """Addresses of listening TCP sockets this process holds."""
    if os.path.exists("/proc/net/tcp"):
        inodes = set()
        for fd in os.listdir("/proc/self/fd"):
            try:
                link = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
        found = []
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(table) as f:
                    rows = f.read().splitlines()[1:]
            except OSError:
                continue
            for row in rows:
                cols = row.split()
                if len(cols) > 9 and cols[3] == "0A" and cols[9] in inodes:
                    found.append(f"port {int(cols[1].rsplit(':', 1)[1], 16)}")
        return found
    psutil = trusted_import("psutil")
    try:
        conns = psutil.Process().net_connections(kind="inet")
    except (psutil.Error, OSError):
        return []
    return [f"{c.laddr.ip}:{c.laddr.port}" for c in conns if c.status == "LISTEN"]


def census() -> dict[str, list]:
    """This process's threads as `threading.enumerate()` lists them now, but the main one:
    native thread id -> [name, daemon]. Testimony: the grader counts the threads from the OS
    (graders/observe.py) and uses this only to name them; a thread missing here is a leak."""
    try:
        main = threading.main_thread()
        return {str(t.native_id): [str(t.name), bool(t.daemon)] for t in threading.enumerate()
                if t is not main and t.is_alive()}
    except Exception:  # noqa: BLE001 - student code may have broken threading: no names
        return {}


def find_leaks(threads_before: set, checks: dict, grace: float) -> list[dict]:
    """What the student code left behind, waiting up to `grace` s for it to wind down: data
    (kind, count, details) that the grading process puts in words (harness.describe_leak).
    What the grader reads from the OS itself is not looked at here: processes and zombies
    (checks["outside"]), threads and listening sockets (checks["observed"], Linux)."""
    deadline = time.monotonic() + grace
    while True:
        leaks = []
        if checks.get("threads", True) and not checks.get("observed"):
            alive = [
                t for t in threading.enumerate()
                if t not in threads_before and t.is_alive()
                and not t.name.startswith("QueueFeederThread")
            ]
            if alive:
                leaks.append({"kind": "threads", "count": len(alive),
                              "names": [[str(t.name), bool(t.daemon)] for t in alive]})
        if checks.get("processes", True) and not checks.get("outside"):
            helpers = _helper_pids()
            procs = [(pid, z) for pid, z in _descendants() if pid not in helpers]
            running = [pid for pid, zombie in procs if not zombie]
            zombies = [pid for pid, zombie in procs if zombie]
            if running:
                leaks.append({"kind": "running", "count": len(running), "pids": running})
            if zombies:
                leaks.append({"kind": "zombies", "count": len(zombies), "pids": zombies})
        if checks.get("sockets", True) and not checks.get("observed"):
            listening = _listening()
            if listening:
                leaks.append({"kind": "sockets", "count": len(listening), "where": listening})
        if not leaks or time.monotonic() >= deadline:
            return leaks
        time.sleep(0.01)


def shield() -> None:
    """Fork once: the parent becomes a shim that only waits, the child goes on to grade.

    Student code that kills its parent (os.kill(os.getppid(), 9)) then hits the shim, never
    the pytest process that grades; the harness sees the shim die and reports it."""
    if not hasattr(os, "fork"):
        return
    shim = os.getpid()
    pid = os.fork()
    if pid == 0:
        # If the shim dies (killed by student code), the worker dies with it at once: it must
        # never go on re-parented to the grading process, where a second os.kill(os.getppid())
        # would hit pytest itself.
        if sys.platform.startswith("linux"):
            import ctypes

            ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != shim:
            os._exit(1)
        return
    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # stack dumps are for the worker
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    code = os.waitstatus_to_exitcode(status)
    os._exit(code if code >= 0 else 128 - code)


def set_limits(limits: dict) -> None:
    """Per-process limits the OS enforces: address space, and (not for root) process count."""
    try:
        import resource
    except ImportError:
        return
    memory = 4 * int(limits.get("memory_mb", 0)) * 1024 * 1024  # address space, not RSS:
    if memory and sys.platform != "darwin":  # threads reserve stacks and malloc arenas
        try:  # (macOS refuses RLIMIT_AS; the harness's memory watchdog still applies)
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        except (ValueError, OSError):
            pass
    if hasattr(resource, "RLIMIT_NPROC") and hasattr(os, "geteuid") and os.geteuid() != 0:
        # the count is per user, over all their processes: leave room for what already runs
        soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
        cap = 4096 + int(limits.get("processes", 0))
        if hard == resource.RLIM_INFINITY or cap < hard:
            resource.setrlimit(resource.RLIMIT_NPROC, (cap, hard))


_MISSING = object()
_WRITER = ("json", "json.encoder")  # what _write_result runs besides builtins: sealed too


def seal() -> callable:
    """The graders' code in this process as it is now, before student code runs; returns a
    check that names what changed since: a graders module swapped in sys.modules, or one of
    their functions or classes (or a class's functions) replaced, its code included; the same
    for the json modules the result writer runs.

    Enforcement inside the student's interpreter, not evidence: it catches code that patches
    the grader and leaves the patch in place (a scheduler told to find nothing, a result
    writer that edits the answer); a patch put back before the check, or data rewritten in
    place (a probe's counters), is not seen, as the README's residual risks say. Every graders
    module a scenario uses in this process is imported before the seal (at the top of its
    module), so none is first imported, from a planted sys.modules entry, afterwards."""
    function_types = (types.FunctionType, types.BuiltinFunctionType, type, types.ModuleType)
    modules = {name: m for name, m in sys.modules.items()
               if name in _WRITER or name == "graders" or name.startswith("graders.")}
    marks = []  # (where, namespace, key, object, its code)
    for name, module in modules.items():
        for key, value in list(vars(module).items()):
            if isinstance(value, function_types):
                marks.append((f"{name}.{key}", vars(module), key, value,
                              getattr(value, "__code__", None)))
            if isinstance(value, type) and value.__module__ == name:
                for attr, member in list(vars(value).items()):
                    if isinstance(member, (types.FunctionType, staticmethod, classmethod,
                                           property)):
                        marks.append((f"{name}.{key}.{attr}", vars(value), attr, member,
                                      getattr(member, "__code__", None)))

    def changed() -> list[str]:
        found = [name for name, module in modules.items() if sys.modules.get(name) is not module]
        for where, namespace, key, value, code in marks:
            now = namespace.get(key, _MISSING)
            if now is not value or getattr(now, "__code__", None) is not code:
                found.append(where)
        return found

    return changed


def _answer_tampered(raw: tuple, path: str, nonce: str, names: list[str]) -> None:
    """The answer when the seal broke, made of str operations and the builtins in `raw`
    (bound before student code ran: os.open, os.write, os.close, os.replace, the flags)."""
    os_open, os_write, os_close, os_replace, flags = raw
    names = ["".join(c for c in str(n) if c.isalnum() or c in "._")[:80] for n in names[:20]]
    text = ('{"nonce": "' + "".join(c for c in nonce if c.isalnum()) + '", "status": '
            '"tampered", "value": null, "leaks": [], "tampered": ["' + '", "'.join(names)
            + '"]}')
    fd = os_open(path + ".tmp", flags, 0o600)
    os_write(fd, text.encode())
    os_close(fd)
    os_replace(path + ".tmp", path)


def _write_result(path: str, result: dict) -> None:
    data = _dumps(result, default=repr).encode()
    fd = _os_open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    _os_write(fd, data)
    os.close(fd)
    _os_replace(path + ".tmp", path)


# Taken before any student code is imported, so monkeypatching json, os or builtins cannot
# reach what reports the result.
_dumps, _os_open, _os_write, _os_replace = json.dumps, os.open, os.write, os.replace
_os_read, _os_close, _O_WRITE = os.read, os.close, os.O_WRONLY | os.O_CREAT | os.O_TRUNC
_BUILTINS = dict(vars(builtins))


def _restore_builtins() -> None:
    vars(builtins).update(_BUILTINS)


def main() -> None:
    request = json.loads(sys.stdin.readline())
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    # No working directory on sys.path (Python < 3.11 has no PYTHONSAFEPATH): a file that
    # student code writes there must never be imported as one of the grader's modules.
    sys.path[:] = [p for p in sys.path if p not in ("", ".")]
    from graders import _enter  # not graders.contain: its imports would slow every child

    _enter.enter(request.get("contain", {}))  # still root, PID 1: cgroup and mounts
    shield()  # stack dumps on SIGUSR1 were installed by sitecustomize (graders/_boot)
    make_subreaper()
    _enter.drop_privileges(request.get("contain", {}))  # the worker: the throwaway uid
    set_limits(request.get("limits", {}))
    if request.get("start_method"):  # else not imported here: a scenario needing it imports it
        import multiprocessing

        multiprocessing.set_start_method(request["start_method"], force=True)
    module_name, func_name = request["scenario"].split(":")
    scenario = getattr(importlib.import_module(module_name), func_name)
    impl = request["impl"]
    _IMPL[0] = os.path.abspath(impl)
    sys.path.insert(0, impl)
    if request.get("start_method"):
        _watch_start_methods(request["start_method"])
    if request.get("perturb") is not None:
        from graders._perturb import install_perturbation

        install_perturbation(impl, request["perturb"], gate=request.get("gate"))
    threads_before = set(threading.enumerate())
    result = {"nonce": request["nonce"], "status": "ok", "value": None, "leaks": []}
    # What runs after student code is bound here, before it: patching graders._child's
    # functions then changes nothing below, and the seal names the patch.
    changed, leaks_of, threads_of, write = seal(), find_leaks, census, _write_result
    os_write, os_read, restore = _os_write, _os_read, _restore_builtins
    raw = (_os_open, _os_write, _os_close, _os_replace, _O_WRITE)
    answer_tampered = _answer_tampered
    started = time.perf_counter()
    try:
        result["value"] = scenario(*request["args"])
    except NotImplementedError as e:
        result.update(status="todo", error=str(e) or "NotImplementedError",
                      where=_student_frames(e.__traceback__, impl))
    except BaseException as e:  # noqa: BLE001 - anything student code raises is a finding
        result.update(status="error", error=f"{type(e).__name__}: {e}",
                      where=_student_frames(e.__traceback__, impl))
    result["seconds"] = time.perf_counter() - started
    result["other_methods"] = list(_OTHER_METHODS)
    restore()
    result["tampered"] = changed()
    if result["status"] == "ok":
        checks = dict(request.get("checks", {}), outside=request.get("outside_processes"),
                      observed=request.get("observe"))
        result["leaks"] = leaks_of(threads_before, checks, request.get("grace", 1.0))
        if request.get("observe"):
            result["threads"] = threads_of()
    if result["tampered"]:  # written with builtins alone: no patched code touches it
        answer_tampered(raw, request["result_path"], request["nonce"], result["tampered"])
    else:
        write(request["result_path"], result)
    if request.get("outside_processes"):
        # The grader looks at what is left below this process, from outside; then it lets
        # this process go by closing its end of `go`.
        try:
            os_write(request["ready_fd"], b"1")
            os_read(request["go_fd"], 1)
        except OSError:
            pass
    os._exit(0)
