"""Scenarios for producer_consumer.py: producers and consumers on a JoinableQueue (section 6).

The consumer is driven in this process, on a JoinableQueue that counts every get() and
task_done(), so a missing or doubled task_done() is seen exactly. kitchen() runs in a thread
of this process while the main thread watches the grader's `eat`, which every consumer
process calls: each call is a round trip to the grader's dining desk (graders/desk.py), which
counts it, and the process it came from, in the grader's own process (the interrupted kitchen
still notes its meals in files of its own). A kitchen that stops
making progress is diagnosed from where its thread is stuck (q.join() or a process join)
instead of waiting for the harness timeout.
"""

from __future__ import annotations

import functools
import json
import linecache
import multiprocessing
import multiprocessing.process
import multiprocessing.queues
import os
import queue
import sys
import tempfile
import threading
import time

from graders.scenarios import common

# Consumer processes import this module to unpickle `eat`: keep its imports light (no psutil).
SCALE = float(os.environ.get("GRADER_TIMEOUT_SCALE", "1"))  # as graders.harness.SCALE
GRACE = 1.0 * SCALE  # s processes get to end after kitchen() returns (harness leak_grace)
END = "<the grader's end marker>"
AFTER_ALL = 1.5 * SCALE  # s kitchen() may take to return once every item has been eaten
STALL = 4.0 * SCALE  # s without a new item eaten before kitchen() counts as stuck
LIMIT = 14.0 * SCALE  # s for a whole kitchen() call
# s every thread of kitchen() and of its processes may sleep, none woken, before it counts as
# stuck (common.Stillness, Linux): a correct kitchen always has one awake or waking within
# milliseconds (a cook putting, a diner eating, q.join() returning once the last is done)
STILL = 0.5 * SCALE


# ------------------------------------------------------------------------ the grader's eat


class BadBun(ValueError):
    """What the grader's eat raises, on purpose, for some items."""


def _text(item) -> str | None:
    return item if isinstance(item, str) or item is None else f"{type(item).__name__} {item!r}"


def record_eat(folder: str, delay: float, bad: tuple, name, item) -> None:
    """A meal noted by the eating process itself (the interrupted kitchen's eat, gated_eat):
    wait `delay` s, then append [name, pid, item] to the file of this process; raise BadBun
    for the items in `bad` (after recording them)."""
    time.sleep(delay)
    line = json.dumps([str(name)[:60], os.getpid(), _text(item)]) + "\n"
    fd = os.open(os.path.join(folder, f"eat-{os.getpid()}"),
                 os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    if item in bad:
        raise BadBun(f"the grader's eat() refuses {item!r} (a bad bun, on purpose)")


def desk_eat(address, name, item) -> None:
    """The `eat` handed to kitchen(): a round trip to the grader's dining desk, which holds it
    a moment, notes the item and the process that ate it from its side, and answers "raise"
    for the bad buns (raised here as BadBun)."""
    answer = common.ask_desk(address, "eat", [str(name)[:60], _text(item)], LIMIT)
    if answer == b"raise":
        raise BadBun(f"the grader's eat() refuses {item!r} (a bad bun, on purpose)")
    if answer != b"go":
        raise ConnectionError("the grader's dining desk did not answer")


def bad_buns(count: int) -> list[str]:
    """The items the grader's eat raises for in kitchen_run (the desk answers "raise")."""
    return ["jason:masala:1", f"niran:durian:{count - 1}"]


def held_bun(count: int) -> str:
    """The item the dining desk holds until kitchen() waits in q.join() (Dining's `hold`):
    the first cook's last, never a bad bun (count >= 3)."""
    return f"jason:masala:{count - 1}"


def _eaten(folder: str) -> list[list]:
    rows = []
    for name in os.listdir(folder):
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            for line in f:
                if line.endswith("\n"):
                    rows.append(json.loads(line))
    return rows


def _n_eaten(folder: str) -> int:
    n = 0
    for name in os.listdir(folder):
        with open(os.path.join(folder, name), "rb") as f:
            n += f.read().count(b"\n")
    return n


# ------------------------------------------------------------------------------ producer


def producer_run() -> dict:
    """producer() twice on one JoinableQueue (5 items, then 0), then read everything back."""
    import producer_consumer as pc

    q = multiprocessing.JoinableQueue()
    pc.producer("jason", "bun", 5, q)
    pc.producer("ahsan", "naan", 0, q)
    q.put(END)
    got = []
    while True:
        item = q.get(timeout=5)
        if item == END:
            break
        got.append(_text(item))
    return {"items": got}


# ------------------------------------------------------------------------------ consumer


class _AfterStop(BaseException):
    """Raised by CountingQueue.get() after the stop sign: ends a consumer that goes on."""


class CountingQueue(multiprocessing.queues.JoinableQueue):
    """A real JoinableQueue that logs every get() and task_done() of this process, in order."""

    def __init__(self):
        super().__init__(ctx=multiprocessing.get_context())
        self.log: list[list] = []
        self.stopped = False

    def get(self, *args, **kwargs):
        if self.stopped:
            self.log.append(["get after stop"])
            raise _AfterStop("the grader stops a consumer that took a second item after None")
        item = super().get(*args, **kwargs)
        self.log.append(["get", _text(item)])
        self.stopped = item is None
        return item

    def task_done(self):
        self.log.append(["done"])
        super().task_done()


_EATS: list[list] = []
_EAT_LOG: list = [None]  # the log of the CountingQueue consumer_run() hands to consumer()


def counting_eat(bad: tuple, name, item) -> None:
    """The `eat` handed to consumer() in this process: log the call, raise for `bad` items.

    Once done with the item (returning or raising), it notes ["ate", item] in the queue's
    log, so a task_done() that comes before the eating is over shows there."""
    _EATS.append([str(name)[:60], _text(item)])
    log = _EAT_LOG[0]
    if log is not None:
        log.append(["ate", _text(item)])
    if item in bad:
        raise BadBun(f"the grader's eat() refuses {item!r} (a bad bun, on purpose)")


def _call(func, args, box: dict) -> None:
    try:
        box["returned"] = _text(func(*args))
    except BaseException as e:  # noqa: BLE001 - handed to the scenario
        box["error"] = e


def consumer_run(first: list, second: list, bad: list) -> dict:
    """consumer() in a thread: `first` is queued before it starts; once those are eaten and
    the queue has stayed empty a moment, `second` and the stop sign follow."""
    import producer_consumer as pc

    _EATS.clear()
    q = CountingQueue()
    _EAT_LOG[0] = q.log
    for item in first:
        q.put(item)
    box: dict = {}
    eat = functools.partial(counting_eat, tuple(bad))
    t = threading.Thread(target=_call, args=(pc.consumer, ("diner-7", q, eat), box),
                         daemon=True)
    t.start()
    deadline = time.monotonic() + 3 * SCALE
    while len(_EATS) < len(first) and t.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.05)  # the queue stays empty for a moment
    early = not t.is_alive()
    for item in [*second, None]:
        q.put(item)
    t.join(3 * SCALE)
    error = box.get("error")
    if isinstance(error, NotImplementedError):
        raise error
    return {
        "returned": not t.is_alive(),
        "early": early,
        "raised": None if error is None or isinstance(error, _AfterStop)
        else f"{type(error).__name__}: {error}",
        "after_stop": any(e == ["get after stop"] for e in q.log),
        "log": q.log,
        "eats": list(_EATS),
    }


# ------------------------------------------------------------------------------- kitchen


def _role_of(target) -> str:
    target = getattr(target, "func", target)  # a functools.partial
    name = str(getattr(target, "__qualname__", getattr(target, "__name__", ""))).lower()
    return "consumer" if "consum" in name else "producer" if "produc" in name else "process"


def _role(process) -> str:
    return getattr(process, "_grader_role", "process")


_labelling = False  # the labelling is on (once a grading child, for good)


def _label_processes() -> None:
    """Label every process started here consumer/producer/process by its target (start()
    deletes the target), for the feedback only: an observer of the grading child's starts."""
    global _labelling
    if _labelling:
        return
    from graders._child import observe_starts

    base = multiprocessing.process.BaseProcess

    def label(process) -> None:
        target = getattr(process, "_target", None)
        if target is None and type(process).run is not base.run:
            target = type(process).run
        process._grader_role = _role_of(target)
        func = getattr(target, "func", None)
        if func is gated_consumer:  # the cooks wait for its look
            open(os.path.join(target.args[0], f"started-{id(process)}"), "w").close()
        elif func is marked_producer:  # q.join() waits for its items (kitchen_interrupted)
            open(os.path.join(target.args[0], f"producer-{id(process)}"), "w").close()

    observe_starts(label)
    _labelling = True


def _processes() -> list:
    """The processes this process started and has not reaped (multiprocessing's own set)."""
    for _ in range(100):
        try:
            return list(getattr(multiprocessing.process, "_children", ()))
        except RuntimeError:  # the set changed size while the kitchen thread started one
            time.sleep(0.001)
    return []


def _stuck_where(thread: threading.Thread) -> dict:
    """Where the kitchen thread waits: in q.join(), joining a process, or elsewhere."""
    frame = sys._current_frames().get(thread.ident)
    impl = os.path.abspath(sys.path[0]) + os.sep
    out: dict = {"kind": "other", "line": ""}
    while frame is not None:
        code = frame.f_code
        path = code.co_filename.replace("\\", "/")
        if out["kind"] == "other" and "/multiprocessing/" in path:
            if code.co_name == "join" and path.endswith("queues.py"):
                out["kind"] = "queue join"
                try:
                    out["unfinished"] = frame.f_locals["self"]._unfinished_tasks.get_value()
                except Exception:  # noqa: BLE001 - only a detail of the message
                    pass
            elif code.co_name == "join" and path.endswith("process.py"):
                out["kind"] = "process join"
                out["joined"] = _role(frame.f_locals.get("self"))
        if not out["line"] and os.path.abspath(code.co_filename).startswith(impl):
            text = linecache.getline(code.co_filename, frame.f_lineno).strip()
            out["line"] = f"line {frame.f_lineno}, in {code.co_name}: {text}"
        frame = frame.f_back
    return out


def _stderr_tail(chars: int = 1500) -> str:
    """The end of what this process and its children wrote to stderr (a file, on Linux)."""
    try:
        path = os.readlink("/proc/self/fd/2")
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - chars))
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def _leftovers(grace: float) -> tuple[list[str], list[str]]:
    """Processes below this one that still run or are unreaped zombies, after up to `grace`
    s, by role. Reaps nothing (a zombie here is a process kitchen() never joined)."""
    import psutil

    from graders._child import _helper_pids

    deadline = time.monotonic() + grace
    while True:
        roles = {p.pid: _role(p) for p in _processes() if p.pid}
        helpers = _helper_pids()
        running, zombies = [], []
        for p in psutil.Process().children(recursive=True):
            if p.pid in helpers:
                continue
            try:
                dead = p.status() == psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                continue
            (zombies if dead else running).append(roles.get(p.pid, "process"))
        if not (running or zombies) or time.monotonic() >= deadline:
            return running, zombies
        time.sleep(0.01)


# ------------------------------------------- the cooks wait until every diner has looked

GATE = 5.0 * SCALE  # s the cooks wait at most for the diners started to look at the queue
_REAL: dict = {}  # the module's own producer and consumer (a forked process inherits it)


def _real(role: str):
    if role in _REAL:
        return _REAL[role]
    import producer_consumer  # a spawned or forkserver process: a fresh, unpatched import

    return getattr(producer_consumer, role)


class _Looked:
    """The queue as a diner sees it: the queue itself, except that the diner's first get(),
    get_nowait(), empty() or qsize() leaves a mark, so the cooks can wait for it, and a first
    look that does not wait (empty(), qsize(), get_nowait(), get(block=False)) finds the
    queue empty, as it does whenever a diner starts before the cooks have put anything (a
    multiprocessing queue may also say so while items are on their way): a diner that stops
    at an empty queue meets one on every run, however late it started."""

    def __init__(self, q, mark: str):
        self._q, self._mark = q, mark

    def _look(self) -> bool:
        """Whether this is the diner's first look."""
        if not self._mark:
            return False
        open(self._mark, "w").close()
        self._mark = ""
        return True

    def get(self, *args, **kwargs):
        first = self._look()
        if first and not (args[0] if args else kwargs.get("block", True)):
            raise queue.Empty
        return self._q.get(*args, **kwargs)

    def get_nowait(self):
        if self._look():
            raise queue.Empty
        return self._q.get_nowait()

    def empty(self):
        return True if self._look() else self._q.empty()

    def qsize(self):
        return 0 if self._look() else self._q.qsize()

    def __getattr__(self, name):
        return getattr(self._q, name)


def gated_consumer(signals: str, name, q, eat) -> None:
    """The module's consumer(name, q, eat), on a queue that marks its first look."""
    _real("consumer")(name, _Looked(q, os.path.join(signals, f"looked-{os.getpid()}")), eat)


def gated_producer(signals: str, diners: int, name, food, count, q) -> None:
    """The module's producer, once every diner started so far (kitchen() marks each start)
    has looked at the empty queue, and either all are started or kitchen() has begun to wait
    in a join (then it starts no more before the cooks are done: a kitchen that starts its
    diners after joining its cooks, which the contract allows); at most GATE s."""
    begun = time.monotonic()
    while time.monotonic() - begun < GATE:
        marks = os.listdir(signals)
        started = sum(m.startswith("started-") for m in marks)
        all_in = started >= diners or "waiting" in marks
        if all_in and sum(m.startswith("looked-") for m in marks) >= started:
            break
        time.sleep(0.002)
    _real("producer")(name, food, count, q)


def _gate(pc, n_consumers: int) -> tuple[str, callable]:
    """From now until undone, kitchen() starts the module's cooks only once every diner has
    looked at the queue: a diner that stops at an empty queue then meets one on every run,
    not only when it happened to start first. Returns the signals folder and the undo."""
    signals = os.path.abspath(tempfile.mkdtemp(dir="."))
    _REAL.update(producer=pc.producer, consumer=pc.consumer)
    pc.producer = functools.partial(gated_producer, signals, n_consumers)
    pc.consumer = functools.partial(gated_consumer, signals)

    def undo():
        pc.producer, pc.consumer = _REAL.pop("producer"), _REAL.pop("consumer")

    return signals, undo


def _in_queue_join(thread: threading.Thread) -> bool:
    """Whether `thread` waits in a multiprocessing queue's join() right now."""
    frame = sys._current_frames().get(thread.ident)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "join" and code.co_filename.replace("\\", "/").endswith(
                "multiprocessing/queues.py"):
            return True
        frame = frame.f_back
    return False


def _in_join(thread: threading.Thread) -> bool:
    """Whether `thread` waits in a Process.join() or a JoinableQueue.join() just now."""
    frame = sys._current_frames().get(thread.ident)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "join" and "multiprocessing" in code.co_filename:
            return True
        frame = frame.f_back
    return False


def _kitchen(pc, address, menu: dict, count: int, n_consumers: int, bad: list) -> dict:
    """One kitchen() call, watched, eating at the desk at `address` (which holds each meal and
    knows the bad buns); returns what was observed here. The desk adds what it saw."""
    signals, undo = _gate(pc, n_consumers) if count else ("", lambda: None)
    try:
        return _watched_kitchen(pc, address, menu, count, n_consumers, bad, signals)
    finally:
        undo()


def _watched_kitchen(pc, address, menu: dict, count: int, n_consumers: int,
                     bad: list, signals: str = "") -> dict:
    """`signals`: the cooks' gate folder, told when the kitchen thread first waits in a join."""
    from graders.scenarios.common import Stillness, kill_children

    _label_processes()
    eat = functools.partial(desk_eat, address)
    still, looked = Stillness(STILL, alone=True), 0.0
    expected = len(menu) * count
    threads_before = set(threading.enumerate())
    box: dict = {}
    t = threading.Thread(target=_call, args=(pc.kitchen, (menu, count, n_consumers, eat), box),
                         daemon=True)
    start = last_move = time.monotonic()
    all_eaten_at = None
    seen = 0
    t.start()
    stuck = ""
    joining, eaten = False, common.DeskProgress(address)
    while t.is_alive():
        now = time.monotonic()
        if signals and _in_join(t):
            open(os.path.join(signals, "waiting"), "w").close()
            signals = ""
        if not joining and _in_queue_join(t):  # the desk lets its held bun be eaten now
            common.ask_desk(address, "mark", ["joining"], 1.0)
            joining = True
        n = eaten()
        if n != seen:
            seen, last_move = n, now
        if n >= expected:
            all_eaten_at = all_eaten_at or now
            if now - all_eaten_at > AFTER_ALL:
                stuck = "after all"
        elif now - last_move > STALL:
            stuck = "stalled"
        if now - start > LIMIT:
            stuck = "limit"
        if not stuck and now - looked >= 0.05:  # /proc read 20 times a second, not 100
            looked = now
            stuck = "still" if still.reached() else ""
        if stuck:
            break
        time.sleep(0.01)
    now = time.monotonic()
    out: dict = {"menu": menu, "count": count, "n_consumers": n_consumers, "bad": bad,
                 "expected": expected, "stuck": stuck, "seconds": round(now - start, 2),
                 "limit": LIMIT, "last_move_ago": round(now - last_move, 2), "still": STILL}
    if stuck:
        out["where"] = _stuck_where(t)
        procs = _processes()
        out["alive"] = [_role(p) for p in procs if p.is_alive()]
        out["died"] = [[_role(p), p.exitcode] for p in procs
                       if not p.is_alive() and p.exitcode not in (0, None)]
        out["stderr"] = _stderr_tail() if out["died"] else ""
        kill_children()
        t.join(0.5)
        return out
    error = box.get("error")
    if error is not None:
        kill_children()
        raise error
    common.ask_desk(address, "mark", ["returned"], 1.0)  # the desk counts the meals
    out["running"], out["zombies"] = _leftovers(GRACE)
    out["threads"] = [
        th.name for th in threading.enumerate()
        if th not in threads_before and th is not t and th.is_alive()
        and not th.name.startswith("QueueFeederThread")
    ]
    if out["running"] or out["zombies"]:
        kill_children()
    return out


MENU = {"jason": "masala", "niran": "durian"}  # two cooks: each spawned process costs time


def kitchen_run(address, count: int, n_consumers: int) -> dict:
    """The course's kitchen: two cooks, several diners; eat raises for two of the items (the
    desk's `bad_buns(count)`). The desk learns this process first: no meal may come from it."""
    common.ask_desk(address, "caller", limit=1.0)
    import producer_consumer as pc

    return _kitchen(pc, address, MENU, count, n_consumers, bad_buns(count))


def kitchen_small_run(one: str, empty: str) -> dict:
    """Two small kitchens, each at its own desk: one diner for two cooks; two diners and
    nothing to eat."""
    for address in (one, empty):
        common.ask_desk(address, "caller", limit=1.0)
    import producer_consumer as pc

    first = _kitchen(pc, one, {"jason": "masala", "ahsan": "naan"}, 3, 1, [])
    if first["stuck"] or first["running"] or first["zombies"]:
        return {"one": first}
    return {"one": first, "empty": _kitchen(pc, empty, {"jason": "masala"}, 0, 2, [])}


# ------------------------------------------------------------------ kitchen(), interrupted

BACK = 5.0 * SCALE  # s an interrupted kitchen() may take to clean up and raise
SETTLE_IN_JOIN = 1.5 * SCALE  # s to wait for kitchen() to reach q.join() once it can


def gated_eat(folder: str, signals: str, gate_item: str, name, item) -> None:
    """The `eat` of the interrupted kitchen: like record_eat, but `gate_item` is held (file
    `holding` in `signals`) until the grader opens the gate (file `gate`), at most 10 s."""
    if item == gate_item:
        open(os.path.join(signals, "holding"), "w").close()
        deadline = time.monotonic() + 10 * SCALE
        while not os.path.exists(os.path.join(signals, "gate")) and time.monotonic() < deadline:
            time.sleep(0.005)
    record_eat(folder, 0.0, (), name, item)


def steady_producer(name: str, food: str, count: int, q) -> None:
    """A producer known to be right, for the test that judges kitchen()'s clean-up alone."""
    for i in range(count):
        q.put(f"{name}:{food}:{i}")


def marked_producer(signals: str, name: str, food: str, count: int, q) -> None:
    """steady_producer, leaving a mark in `signals` once every item is put."""
    steady_producer(name, food, count, q)
    open(os.path.join(signals, f"put-{os.getpid()}"), "w").close()


def _join_after_producers(signals: str) -> callable:
    """Until undone, JoinableQueue.join() first waits (at most GATE s) until every producer
    started so far has put all its items: a kitchen() that does not join its producers then
    still reaches the held item on every run, and the test judges its clean-up alone.
    Returns the undo."""
    base = multiprocessing.queues.JoinableQueue
    real = base.join

    def join(self):
        deadline = time.monotonic() + GATE
        while time.monotonic() < deadline:
            marks = os.listdir(signals)
            if (sum(m.startswith("put-") for m in marks)
                    >= sum(m.startswith("producer-") for m in marks)):
                break
            time.sleep(0.002)
        return real(self)

    base.join = join
    return lambda: setattr(base, "join", real)


def steady_consumer(name: str, q, eat) -> None:
    """A consumer known to be right (each item marked done once, the stop sign too)."""
    while True:
        item = q.get()
        try:
            if item is None:
                return
            try:
                eat(name, item)
            except Exception:  # noqa: BLE001 - the contract: go on with the next item
                pass
        finally:
            q.task_done()


def kitchen_interrupted_run(count: int, n_consumers: int) -> dict:
    """kitchen() in this (the main) thread, interrupted by KeyboardInterrupt while it waits
    for the last item, which the grader's eat holds: what is left behind once it raised?

    A grader thread waits until every item but the held one is eaten and kitchen() waits in
    q.join() (or SETTLE_IN_JOIN s more), then sends SIGINT to this thread alone (as Ctrl-C
    would, but not to the consumers), then lets the held item go. The SIGINT handler raises
    KeyboardInterrupt only while kitchen() is on the stack, so no grader code is hit. A
    kitchen() that has not come back BACK s later is diagnosed, and its processes killed.
    """
    import signal

    import producer_consumer as pc

    from graders.scenarios.common import kill_children

    # This test judges kitchen()'s clean-up alone: its producers and consumers are ones known
    # to be right (where kitchen() starts the module's own), so that a broken consumer, which
    # other tests judge, cannot make the interruption land at a different moment every run.
    _label_processes()
    folder, signals = tempfile.mkdtemp(dir="."), os.path.abspath(tempfile.mkdtemp(dir="."))
    pc.producer = functools.partial(marked_producer, signals)
    pc.consumer = steady_consumer
    undo_join = _join_after_producers(signals)
    names = list(MENU)
    gate_item = f"{names[-1]}:{MENU[names[-1]]}:{count - 1}"
    eat = functools.partial(gated_eat, folder, signals, gate_item)
    others = len(MENU) * count - 1
    main = threading.main_thread()
    kitchen_code = getattr(pc.kitchen, "__code__", None)
    back = threading.Event()
    seen: dict = {"interrupts": 0}

    def on_sigint(signum, frame):
        while frame is not None:  # raise only inside kitchen(), never in the grader's code
            if kitchen_code is None or frame.f_code is kitchen_code:
                seen["interrupts"] += 1
                raise KeyboardInterrupt
            frame = frame.f_back

    def interrupt() -> None:
        if hasattr(signal, "pthread_kill"):
            signal.pthread_kill(main.ident, signal.SIGINT)  # wakes a blocked wait (EINTR)
        else:  # Windows: multiprocessing's waits there watch for the SIGINT event
            import _thread

            _thread.interrupt_main()

    def ready() -> bool:
        return os.path.exists(os.path.join(signals, "holding")) and _n_eaten(folder) >= others

    def interrupter() -> None:
        start = time.monotonic()
        while not ready() and not back.is_set() and time.monotonic() - start < LIMIT:
            time.sleep(0.01)
        seen["ready"] = ready()
        settle = time.monotonic() + SETTLE_IN_JOIN
        while seen["ready"] and not back.is_set() and time.monotonic() < settle:
            if _stuck_where(main)["kind"] == "queue join":
                break
            time.sleep(0.01)
        if back.is_set():
            return
        seen["eaten_before"] = _n_eaten(folder)
        seen["where"] = _stuck_where(main)
        seen["sent"] = True
        interrupt()
        open(os.path.join(signals, "gate"), "w").close()
        if back.wait(BACK):
            return
        seen["stuck"] = _stuck_where(main)
        procs = _processes()
        seen["alive"] = [_role(p) for p in procs if p.is_alive()]
        kill_children()
        while not back.wait(2):  # a clean-up that waits on something else: interrupt it again
            interrupt()

    old = signal.signal(signal.SIGINT, on_sigint)
    watcher = threading.Thread(target=interrupter, daemon=True)
    error = None
    try:
        watcher.start()
        try:
            pc.kitchen(dict(MENU), count, n_consumers, eat)
        except BaseException as e:  # noqa: BLE001 - what kitchen() raised is the finding
            error = e
        finally:
            back.set()
        watcher.join(5)
    finally:
        signal.signal(signal.SIGINT, old)
        undo_join()
    if isinstance(error, NotImplementedError):
        kill_children()
        raise error
    out: dict = {
        "count": count, "n_consumers": n_consumers, "held": gate_item,
        "expected": len(MENU) * count,
        "ready": seen.get("ready", False), "sent": seen.get("sent", False),
        "where": seen.get("where"), "stuck": seen.get("stuck"), "alive": seen.get("alive", []),
        "raised": None if error is None else
        (f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)[:300],
        "interrupted": isinstance(error, KeyboardInterrupt),
        "eaten_before": seen.get("eaten_before"),
    }
    out["running"], out["zombies"] = _leftovers(GRACE)
    out["eaten"] = _n_eaten(folder)
    if out["running"] or out["zombies"]:
        kill_children()
    return out
