"""Scenarios shared by every exercise."""

from __future__ import annotations

import json
import os
import socket
import time


def _is_stub(func) -> bool:
    """True when the body (after a docstring) is only `raise NotImplementedError...`."""
    import ast
    import inspect
    import textwrap

    try:  # dedent, not lstrip: a method's decorators (@property) start the source
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return False
    fn = tree.body[0] if tree.body else None
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False  # e.g. a property made from a lambda
    body = [
        s for s in fn.body
        if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
    ]
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    exc = body[0].exc
    name = exc.func if isinstance(exc, ast.Call) else exc
    return isinstance(name, ast.Name) and name.id == "NotImplementedError"


def _watched(builtin_names: dict | None = None) -> dict:
    """Builtins and standard-library functions that student code must not replace."""
    import builtins
    import json
    import multiprocessing
    import threading

    names = builtin_names if builtin_names is not None else vars(builtins)
    found = {f"builtins.{k}": v for k, v in names.items() if not k.startswith("_")}
    for mod in (time, os, json, multiprocessing, threading):
        for k, v in vars(mod).items():
            if not k.startswith("_") and callable(v):
                found[f"{mod.__name__}.{k}"] = v
    return found


def _patched(before: dict) -> list[str]:
    """Names patched since `before`; builtins are put back first (comparing needs them)."""
    import builtins

    from graders._child import _restore_builtins

    now = builtins.__dict__.copy()  # a method call: works whatever was done to builtins
    _restore_builtins()
    return sorted(name for name, obj in _watched(now).items() if before.get(name) is not obj)


def probe(module: str) -> dict:
    """Import the student module; report whether it exists and which functions are stubs."""
    import importlib
    import inspect
    import traceback

    impl = os.path.abspath(os.sys.path[0])
    if not os.path.exists(os.path.join(impl, module + ".py")):
        return {"state": "missing"}
    watched = _watched()
    try:
        mod = importlib.import_module(module)
        patched = _patched(watched)
        if patched:  # the grading process says it in words (harness.Student.require)
            return {"state": "broken", "where": "", "error": "", "patched": patched}
    except BaseException as e:  # noqa: BLE001 - any failure at import is the finding
        patched = _patched(watched)
        if patched:
            return {"state": "broken", "where": "", "error": "", "patched": patched,
                    "then_failed": True}
        tb = traceback.extract_tb(e.__traceback__)
        mine = [f for f in tb if os.path.abspath(f.filename).startswith(impl)]
        detail = "".join(traceback.format_list(mine[-3:]))
        if isinstance(e, SyntaxError):
            detail = f'  File "{e.filename}", line {e.lineno}\n    {(e.text or "").strip()}\n'
        return {"state": "broken", "error": f"{type(e).__name__}: {e}", "where": detail}
    functions, stubs = [], []
    for name, obj in vars(mod).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module:
            continue
        members = [obj]
        if inspect.isclass(obj):
            members = [
                v.fget if isinstance(v, property) else v
                for k, v in vars(obj).items()
                if inspect.isfunction(v) or isinstance(v, property)
            ]
        for f in members:
            if inspect.isfunction(f):
                functions.append(f.__qualname__)
                if _is_stub(f):
                    stubs.append(f.__qualname__)
    return {"state": "ok", "functions": functions, "stubs": stubs}


def kill_children() -> list[int]:
    """Kill and reap every process below this one, except multiprocessing's own helpers.

    For a scenario that found the student's code stuck: it reports what it saw instead of
    waiting for the harness timeout, and leaves nothing behind."""
    import multiprocessing

    from graders._child import _helper_pids, trusted_import

    psutil = trusted_import("psutil")

    helpers = _helper_pids()
    procs = [p for p in psutil.Process().children(recursive=True) if p.pid not in helpers]
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=2)
    multiprocessing.active_children()  # lets multiprocessing reap the ones it started
    for p in procs:  # re-parented orphans come to us (subreaper): reap them too
        try:
            os.waitpid(p.pid, os.WNOHANG)
        except (ChildProcessError, OSError):
            pass
    return [p.pid for p in procs]


def wait_for_progress(done, progress, stall: float, limit: float,
                      still: Stillness | None = None) -> str:
    """Wait until done() is true. Return "" then, "stalled" when progress() (a number) has
    not grown for `stall` s since it first moved, "deadlocked" when `still` (a Stillness)
    saw every process and thread of the student's asleep without once waking for its
    seconds, or "limit" after `limit` s."""
    start = last_move = time.monotonic()
    seen = progress()
    while not done():
        now = time.monotonic()
        current = progress()
        if current != seen:
            seen, last_move = current, now
        if seen and now - last_move > stall:
            return "stalled"
        if still is not None and still.reached():
            return "deadlocked"
        if now - start > limit:
            return "limit"
        time.sleep(0.01)
    return ""


class Stillness:
    """Whether the student's code has gone still: every thread of every process below this
    one, and every thread of this process but the grader's (the one that asks, and `mine`),
    asleep without once waking for `seconds` s, while at least one of the student's
    processes (not a zombie, not multiprocessing's forkserver or resource tracker) is alive.
    Seen in Linux's /proc from outside those threads: each one's state and context-switch
    counts, readable for any process. A thread that runs for a moment and sleeps again
    counts a switch; one whose sleep ended shows R even before it gets a core, so a loaded
    machine never makes code look still. A thread whose syscall can be read (this process's,
    a spawned one's) and is a wait with a timeout (a sleep, a join(timeout)) is not still:
    it wakes by itself. A scenario uses it where a correct implementation always has a
    thread awake or waking within its latencies (milliseconds), so still for `seconds` is a
    lock nobody will release, a join on a process that waits for its joiner: stuck, not
    slow. Never reached where /proc does not tell (another OS)."""

    # Linux syscall numbers (x86_64, aarch64) of waits that can end by themselves, and the
    # argument holding the timeout (None: always timed; "ptr": NULL waits for ever; "int":
    # negative waits for ever); any other syscall has no timeout of its own
    TIMED = {"x86_64": {35: (None, ""), 230: (None, ""), 202: (3, "ptr"), 7: (2, "int"),
                        271: (2, "ptr"), 23: (4, "ptr"), 270: (4, "ptr"), 232: (3, "int"),
                        281: (3, "int"), 441: (3, "ptr"), 128: (2, "ptr"), 220: (3, "ptr")},
             "aarch64": {101: (None, ""), 115: (None, ""), 98: (3, "ptr"), 73: (2, "ptr"),
                         72: (4, "ptr"), 22: (3, "int"), 441: (3, "ptr"), 137: (2, "ptr"),
                         192: (3, "ptr")}}

    def __init__(self, seconds: float, mine: set[int] | None = None, alone: bool = False,
                 only: set[int] | None = None, threads: set[int] | None = None):
        """`alone`: still counts even when no student process is alive below this one, its
        threads here all asleep (a kitchen() whose consumers have all ended). `only`: look at
        these processes alone (a program's main, not the guardian it waits for); `threads`:
        at these threads of them alone (native ids: the caller of a start_thread())."""
        import threading

        self.seconds, self.alone, self.only, self.threads = seconds, alone, only, threads
        self.mine = {threading.get_native_id(), *(mine or ())}
        self.timed = self.TIMED.get(os.uname().machine) if hasattr(os, "uname") else None
        me = os.getpid()  # the children files: _child._descendants never falls back to psutil
        self.known = self.timed is not None and os.path.exists(f"/proc/{me}/task/{me}/children")
        self.seen: tuple | None = None
        self.since = time.monotonic()

    def _timed_wait(self, pid: int, tid: str) -> bool:
        """Whether the thread sleeps in a wait that ends by itself; False when its syscall
        cannot be read (a forked child of a process that changed uid is not dumpable)."""
        try:
            with open(f"/proc/{pid}/task/{tid}/syscall") as f:
                fields = f.read().split()
            number, args = int(fields[0]), [int(a, 16) for a in fields[1:7]]
        except (OSError, ValueError, IndexError):
            return False
        arg, kind = self.timed.get(number, (-1, ""))
        if arg is None:
            return True
        if arg < 0:
            return False
        value = args[arg]
        return value != 0 if kind == "ptr" else value & 0xFFFFFFFF < 1 << 31  # int >= 0

    def _look(self) -> tuple | None:
        """Every student thread's (pid, tid, state, switches); None if one is awake or in a
        timed wait, or no student process but this one is alive."""
        from graders._child import _descendants, _helper_pids

        me = os.getpid()
        pids = [me, *(pid for pid, _zombie in _descendants())]
        if self.only is not None:
            pids = [pid for pid in pids if pid in self.only]
        helpers = _helper_pids()
        marks, alive = [], False
        for pid in pids:
            try:
                tids = sorted(os.listdir(f"/proc/{pid}/task"), key=int)
            except OSError:
                continue  # ended: the next look differs
            for tid in tids:
                if (pid == me and int(tid) in self.mine) or (
                        self.threads is not None and int(tid) not in self.threads):
                    continue
                try:
                    with open(f"/proc/{pid}/task/{tid}/status") as f:
                        fields = dict(line.split(":", 1) for line in f if ":" in line)
                except OSError:
                    continue
                state = fields.get("State", "").split()[:1]
                if state != ["Z"] and (state != ["S"] or self._timed_wait(pid, tid)):
                    return None  # running, runnable, in I/O (D), stopped, or a timer set
                alive = alive or (state == ["S"] and pid != me and pid not in helpers)
                marks.append((pid, int(tid), state[0], fields.get("voluntary_ctxt_switches"),
                              fields.get("nonvoluntary_ctxt_switches")))
        return tuple(marks) if alive or (self.alone and marks) else None

    def reached(self) -> bool:
        """True once nothing of the student's has woken for `seconds` s (call it often)."""
        now = time.monotonic()
        look = self._look() if self.known else None
        if look is None or look != self.seen:
            self.seen, self.since = look, now
            return False
        return now - self.since >= self.seconds


_PLAIN = (bool, int, float, str, type(None))


def is_a(obj, cls) -> bool:
    """`obj` is a `cls` by its real type. isinstance() also believes the `__class__` an object
    claims (a property can name threading.Thread), so the scenarios check returned threads,
    processes and sockets with this (trusted-verdicts class 8)."""
    return issubclass(type(obj), cls)


def plain(value, depth: int = 0):
    """`value` if it is built only of plain JSON types, checked by exact type, so an object
    that lies about equality or its repr cannot pass for one; otherwise a description of it.
    Scenarios hand student return values back through this, never as they are."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind in (list, tuple) and depth < 6:
        return [plain(v, depth + 1) for v in value]
    if kind is dict and depth < 6:
        return {(k if type(k) is str else repr(plain(k, depth + 1))): plain(v, depth + 1)
                for k, v in value.items()}
    return f"<a {kind.__module__}.{kind.__qualname__} object>"


# ------------------------------------------------------------------ desks (graders/desk.py)


def ask_desk(address, kind: str, said: list | None = None, limit: float = 12.0) -> bytes:
    """Tell a desk of the grader's (graders/desk.py: a socket whose other end is the grader's
    own process) what this process is doing, and return its answer, waiting at most `limit` s.
    The wait wakes every few milliseconds, so a caller the desk holds never looks asleep to
    Stillness."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    message = f"{kind} {os.getpid()}\n".encode()
    if said is not None:
        message += json.dumps(said).encode()
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(2.0)
        s.connect(address if isinstance(address, str) else tuple(address))
        s.sendall(message)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(0.005)
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                return s.recv(16)
            except TimeoutError:
                continue
    return b""


def desk_count(address) -> int:
    """How many calls the desk has seen so far."""
    try:
        return int(ask_desk(address, "count", limit=1.0) or 0)
    except (OSError, ValueError):
        return 0


class DeskProgress:
    """A scenario's progress callable: desk_count(address), asked at most every `every` s
    (a question costs about a millisecond of CPU; stalls are judged over seconds)."""

    def __init__(self, address, every: float = 0.05):
        self.address, self.every = address, every
        self.at, self.value = -every, 0

    def __call__(self) -> int:
        now = time.monotonic()
        if now - self.at >= self.every:
            self.value, self.at = desk_count(self.address), now
        return self.value
