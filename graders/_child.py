"""The grading child: the only process in which student code runs.

The harness starts `python -c "from graders._child import main; main()"` in a new session,
writes one JSON request line on its stdin and waits. The child:

1. reads the request, then points stdin at /dev/null (student code cannot read it);
2. makes itself a child subreaper (Linux), so processes orphaned by student code come
   back to it instead of init; and dumps every thread's stack on SIGUSR1;
3. puts the implementation folder first on sys.path, sets the multiprocessing start method;
4. calls the scenario (a function in graders/scenarios/), which calls the student code and
   returns plain data (JSON) describing what it observed;
5. checks what the student code left behind (threads, processes, zombies, listening sockets);
6. writes {"nonce", "status", "value", "leaks", ...} to the result file and leaves with
   os._exit, so no atexit handler or non-daemon child of the student can hold it.

The verdict is made by the grading process from that data, never here.
"""

from __future__ import annotations

import builtins
import faulthandler
import importlib
import json
import os
import random
import signal
import sys
import threading
import time
import traceback

_stack_file = None


def install_stack_dumps() -> None:
    """On SIGUSR1, write every thread's stack to $GRADER_STACKS/<pid>.txt (also after fork)."""
    global _stack_file
    folder = os.environ.get("GRADER_STACKS")
    if not folder or not hasattr(signal, "SIGUSR1"):
        return
    _stack_file = open(os.path.join(folder, f"{os.getpid()}.txt"), "w")  # noqa: SIM115
    faulthandler.register(signal.SIGUSR1, file=_stack_file, all_threads=True)
    if not getattr(install_stack_dumps, "_at_fork", False):
        os.register_at_fork(after_in_child=install_stack_dumps)
        install_stack_dumps._at_fork = True


def install_perturbation(impl: str, seed: int, rate: float = 0.2, pause: float = 0.0002) -> None:
    """Pause student code between bytecodes, at random, to expose races the GIL hides.

    A tracer on every thread (and, through sitecustomize and fork, every process) slows only
    frames whose code lives in the implementation folder: at each bytecode, with probability
    `rate`, it sleeps `pause` s, which lets another thread run right there. The decisions come
    from a per-thread random stream seeded by `seed`, the process id order aside.
    """
    prefix = os.path.abspath(impl) + os.sep
    local = threading.local()
    counter = iter(range(1, 1 << 30))

    def rng() -> random.Random:
        r = getattr(local, "rng", None)
        if r is None:
            r = local.rng = random.Random(seed * 7919 + next(counter))
        return r

    def opcode(frame, event, arg):
        if event == "opcode" and rng().random() < rate:
            time.sleep(pause)
        return opcode

    def call(frame, event, arg):
        if frame.f_code.co_filename.startswith(prefix):
            frame.f_trace_opcodes = True
            return opcode
        return None

    threading.settrace(call)
    sys.settrace(call)
    os.environ["GRADER_PERTURB"] = f"{impl}{os.pathsep}{seed}"


def make_subreaper() -> bool:
    """Linux: orphaned descendants are re-parented to this process, not to init."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER


def _student_frames(tb, impl: str) -> str:
    """The traceback, keeping only frames from the implementation folder when there are any."""
    frames = traceback.extract_tb(tb)
    mine = [f for f in frames if os.path.abspath(f.filename).startswith(impl + os.sep)]
    return "".join(traceback.format_list(mine or frames))


def _helper_pids() -> set[int]:
    """multiprocessing's own long-lived helpers (forkserver, resource tracker) are no leak."""
    pids = set()
    try:
        from multiprocessing import forkserver, resource_tracker

        pids.add(forkserver._forkserver._forkserver_pid)
        pids.add(resource_tracker._resource_tracker._pid)
    except Exception:
        pass
    return {p for p in pids if p}


def find_leaks(threads_before: set, checks: dict, grace: float) -> list[str]:
    """What the student code left behind, waiting up to `grace` s for it to wind down."""
    import psutil

    me = psutil.Process()
    deadline = time.monotonic() + grace
    while True:
        leaks = []
        if checks.get("threads", True):
            alive = [
                t for t in threading.enumerate()
                if t not in threads_before and t.is_alive()
                and not t.name.startswith("QueueFeederThread")
            ]
            if alive:
                names = ", ".join(f"{t.name!r}{' (daemon)' if t.daemon else ''}" for t in alive)
                leaks.append(f"{len(alive)} thread(s) still running: {names}")
        if checks.get("processes", True):
            helpers = _helper_pids()
            running, zombies = [], []
            for p in me.children(recursive=True):
                if p.pid in helpers:
                    continue
                try:
                    (zombies if p.status() == psutil.STATUS_ZOMBIE else running).append(p.pid)
                except psutil.NoSuchProcess:
                    pass
            if running:
                leaks.append(f"{len(running)} child process(es) still running (pids {running})")
            if zombies:
                leaks.append(
                    f"{len(zombies)} zombie process(es) that were never joined (pids {zombies})"
                )
        if checks.get("sockets", True):
            try:
                listening = [
                    c.laddr for c in me.net_connections(kind="inet") if c.status == "LISTEN"
                ]
            except (psutil.Error, OSError):
                listening = []
            if listening:
                addrs = ", ".join(f"{a.ip}:{a.port}" for a in listening)
                leaks.append(f"{len(listening)} listening socket(s) left open ({addrs})")
        if not leaks or time.monotonic() >= deadline:
            return leaks
        time.sleep(0.01)


def shield() -> None:
    """Fork once: the parent becomes a shim that only waits, the child goes on to grade.

    Student code that kills its parent (os.kill(os.getppid(), 9)) then hits the shim, never
    the pytest process that grades; the harness sees the shim die and reports it."""
    if not hasattr(os, "fork"):
        return
    pid = os.fork()
    if pid == 0:
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
    if memory:  # threads reserve stacks and malloc arenas, so give it room
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    if hasattr(resource, "RLIMIT_NPROC") and hasattr(os, "geteuid") and os.geteuid() != 0:
        import psutil

        mine = sum(1 for p in psutil.process_iter(["uids"])
                   if p.info["uids"] and p.info["uids"].real == os.getuid())
        cap = mine + int(limits.get("processes", 0))
        if cap > mine:
            resource.setrlimit(resource.RLIMIT_NPROC, (cap, cap))


def _write_result(path: str, result: dict) -> None:
    data = _dumps(result, default=repr).encode()
    fd = _os_open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    _os_write(fd, data)
    os.close(fd)
    _os_replace(path + ".tmp", path)


# Taken before any student code is imported, so monkeypatching json, os or builtins cannot
# reach what reports the result.
_dumps, _os_open, _os_write, _os_replace = json.dumps, os.open, os.write, os.replace
_BUILTINS = dict(vars(builtins))


def _restore_builtins() -> None:
    vars(builtins).update(_BUILTINS)


def main() -> None:
    request = json.loads(sys.stdin.readline())
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    shield()
    install_stack_dumps()
    make_subreaper()
    set_limits(request.get("limits", {}))
    import multiprocessing

    import psutil  # noqa: F401 - imported before the student's folder can shadow it

    if request.get("start_method"):
        multiprocessing.set_start_method(request["start_method"], force=True)
    module_name, func_name = request["scenario"].split(":")
    scenario = getattr(importlib.import_module(module_name), func_name)
    impl = request["impl"]
    sys.path.insert(0, impl)
    if request.get("perturb") is not None:
        install_perturbation(impl, request["perturb"])
    threads_before = set(threading.enumerate())
    result = {"nonce": request["nonce"], "status": "ok", "value": None, "leaks": []}
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
    _restore_builtins()
    if result["status"] == "ok":
        result["leaks"] = find_leaks(threads_before, request.get("checks", {}),
                                     request.get("grace", 1.0))
    _write_result(request["result_path"], result)
    os._exit(0)
