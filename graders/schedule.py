"""Controlled thread schedules: one thread runs at a time, and the scheduler chooses which.

A race shows by design, not by luck: every thread the student's code starts (and the main
thread that calls it) holds a private baton, and only the holder runs. At each scheduling
point the scheduler decides who goes next: at the student's reads and writes of shared state
(attributes, globals, closure cells, subscripts: found with `dis` in the student's code
objects, reached through sys.monitoring on 3.12+ and the opcode tracer on 3.10/3.11), and at
every threading primitive the student module uses (Thread start/join, Lock and RLock
acquire/release, time.sleep). The scheduler models blocking, so it never hands the baton to a
thread that waits for a lock, a join or a sleep, and `time.sleep` runs on a virtual clock that
moves only when every thread waits: no test pays real seconds for it.

What it cannot control (a thread blocked in C code it does not know, a spin loop that never
ends) is noticed by a watchdog and reported as such; the threads then run free, never hang.

Search (`explore`): first every schedule with one preemption at each point (all lost updates
and most atomicity violations need one), then PCT (Burckhardt et al., ASPLOS 2010): random
distinct thread priorities and d-1 priority change points, which finds a depth-d bug with
probability at least 1/(n k^(d-1)) per schedule for n threads and k steps. A failing schedule is
shrunk to the fewest preemptions, replayed to confirm, and returned as plain data: the
choices (for --replay), a digest per step (so a replay that diverges says where), and the
events, which the grader draws as per-thread lanes.

This module runs inside the grading child: what it reports is the grading child's testimony,
and the grader checks it for consistency (a replayed schedule must give the same digest).
"""

from __future__ import annotations

import _thread
import collections
import dis
import math
import os
import random
import sys
import threading
import time as _time
import types

from graders import _guard

RUNNABLE, BLOCKED, SLEEPING, DONE = "runnable", "blocked", "sleeping", "done"
STALL = 2.0  # real seconds without a scheduling step before the watchdog takes over
MAX_STEPS = 20_000  # scheduling points in one schedule before it counts as a spin loop
FAIR = 0.02  # virtual seconds that sleepers may keep running ahead of a runnable thread

_real_sleep = _time.sleep
_NOTHING = object()  # no value to show
_active: Scheduler | None = None  # the scheduler of the schedule that runs now


class Deadlock(Exception):
    """Raised in every thread of a schedule in which all of them wait for each other."""


class Task:
    """One controlled thread."""

    def __init__(self, tid: int, name: str):
        self.id, self.name = tid, name
        self.baton = _thread.allocate_lock()
        self.baton.acquire()  # held while the task may not run
        self.state = RUNNABLE
        self.waiting_on: object = None
        self.wake_at = 0.0
        self.error: BaseException | None = None
        self.priority = 0.0
        self.since = 0.0  # the virtual time it last ran or became runnable
        self.unjoinable = False  # started with _thread.start_new_thread: nobody can join it


# ------------------------------------------------------------------------------ strategies


class Sticky:
    """No preemption: the running thread goes on while it can; then the oldest runnable."""

    name = "no preemption"

    def start(self, sched: Scheduler) -> None:
        pass

    def choose(self, runnable: list[Task], me: Task | None, step: int, decision: int) -> Task:
        return me if me in runnable and me.state == RUNNABLE else runnable[0]


class PreemptOnce(Sticky):
    """Sticky, except at point `at`, where it switches to the `which`-th other runnable thread."""

    def __init__(self, at: int, which: int):
        self.at, self.which = at, which
        self.name = f"one preemption, at step {at}"

    def choose(self, runnable, me, step, decision):
        if step == self.at and me in runnable:
            others = [t for t in runnable if t is not me]
            if others:
                return others[self.which % len(others)]
        return super().choose(runnable, me, step, decision)


class PCT:
    """Probabilistic concurrency testing, depth `depth`, over about `k` steps."""

    def __init__(self, seed: int, depth: int, k: int):
        self.rng = random.Random(seed)
        self.name = f"PCT depth {depth}, seed {seed}"
        self.depth = depth
        self.changes = {s: i for i, s in enumerate(
            sorted(self.rng.sample(range(1, max(k, depth) + 1), depth - 1)))}

    def start(self, sched):
        pass

    def choose(self, runnable, me, step, decision):
        for t in runnable:
            if not t.priority:
                t.priority = self.depth + self.rng.random()  # above every change point's
        if step in self.changes and me is not None:
            me.priority = (self.changes[step] + 1) / (self.depth + 1)  # below all initial
        return max(runnable, key=lambda t: t.priority)


class RandomWalk:
    """A runnable thread chosen uniformly at every point."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.name = f"random walk, seed {seed}"

    def start(self, sched):
        pass

    def choose(self, runnable, me, step, decision):
        return self.rng.choice(runnable)


class Replay:
    """The choices of a saved schedule, one per point; notes where the replay diverges."""

    name = "replay"

    def __init__(self, choices: list[int]):
        self.choices = list(choices)
        self.diverged = ""

    def start(self, sched):
        pass

    def choose(self, runnable, me, step, decision):
        i = decision
        if i < len(self.choices) and not self.diverged:
            want = next((t for t in runnable if t.id == self.choices[i]), None)
            if want is not None:
                return want
            self.diverged = (f"at step {step} the saved schedule runs thread {self.choices[i]}, "
                             f"which is not runnable now (runnable: "
                             f"{sorted(t.id for t in runnable)})")
        return Sticky.choose(self, runnable, me, step, decision)


# ------------------------------------------------------------------------------- scheduler


class Scheduler:
    """One schedule: the tasks, the virtual clock, the choices and the events."""

    def __init__(self, strategy, prefix: str):
        self.strategy = strategy
        self.prefix = prefix  # student code lives under this folder
        self.tasks: dict[int, Task] = {}
        self.by_ident: dict[int, Task] = {}
        self.running: Task | None = None
        self.clock = 0.0
        self.steps = 0
        self.choices: list[int] = []  # the task chosen at each decision
        # what each decision saw: ((task, runnable?) of the candidates, the running task or
        # -1, steps so far); with the choices, enough to know a strategy's schedule unrun
        self.seen: list[tuple] = []
        self.decided_by: list[int] = []  # the task that was running at each decision
        self.preempts: list[int] = []  # the decisions that switched away from a runnable task
        self.events: list[list] = []  # [step, task, kind, where, label, value]
        self.free = False  # control was given up: every thread runs free
        self.problem = ""
        self.guard = _thread.allocate_lock()
        self.lock_names: dict[int, str] = {}
        self.tampered = ""  # how student code switched the scheduling points off, if it did

    # ------------------------------------------------------------------ tasks

    def task(self) -> Task | None:
        if self.free:
            return None
        return self.by_ident.get(_thread.get_ident())

    def adopt(self, name: str) -> Task:
        """The calling thread becomes task 0, the one that runs first."""
        t = Task(len(self.tasks), name)
        self.tasks[t.id] = t
        self.by_ident[_thread.get_ident()] = t
        self.running = t
        return t

    def spawn(self, name: str) -> Task:
        t = Task(len(self.tasks), name)
        t.since = self.clock
        self.tasks[t.id] = t
        return t

    def bind(self, t: Task) -> None:
        """Called first thing in the new thread: wait for the first turn."""
        self.by_ident[_thread.get_ident()] = t
        t.baton.acquire()

    # ------------------------------------------------------------------ steps

    def note(self, me: Task, kind: str, where: str = "", label: str = "",
             value=_NOTHING) -> None:
        """Record a step that has just happened in task `me`."""
        if not self.free:
            self.events.append([len(self.events) + 1, me.id, kind, where, label, _show(value)])

    def alone(self) -> Task | None:
        """The only task not done, if there is just one: then there is nothing to choose."""
        live = [t for t in self.tasks.values() if t.state != DONE]
        return live[0] if len(live) == 1 else None

    def point(self, me: Task, kind: str, where: str = "", label: str = "",
              value=None, record: bool = True) -> None:
        """A scheduling point in task `me`: the strategy chooses who runs; when `me` runs
        again, the step it is about to take is recorded (`value()` is what it sees then)."""
        if self.free or self.alone() is me:
            return
        self.steps += 1
        if self.steps > MAX_STEPS:
            self.give_up(f"more than {MAX_STEPS} steps in one schedule: a loop that waits "
                         f"for another thread without blocking (a spin loop)?")
            return
        self._next(me)
        if record and not self.free:
            seen = value() if callable(value) else _NOTHING
            self.events.append([len(self.events) + 1, me.id, kind, where, label, _show(seen)])

    def block(self, me: Task, on: object, until: float | None = None) -> None:
        """`me` waits for `on` (a lock, a task) or, with `until`, for the virtual clock."""
        me.state = SLEEPING if on is None else BLOCKED
        me.waiting_on, me.wake_at = on, until if until is not None else math.inf
        self._next(me)
        if me.error is not None:
            error, me.error = me.error, None
            raise error

    def wake(self, on: object, first_only: bool = False) -> None:
        """Make the tasks that wait for `on` runnable (only the one waiting longest, for a
        released lock: the others stay blocked until the next release)."""
        for t in self.tasks.values():  # in the order they were created
            if t.state == BLOCKED and t.waiting_on is on:
                self.runnable(t)
                if first_only:
                    return

    def runnable(self, t: Task) -> None:
        """`t` may run again (what it waited for came: a release, a notify, an end, its time),
        runnable since now on the virtual clock (FAIR counts from there)."""
        t.state, t.waiting_on, t.wake_at, t.since = RUNNABLE, None, 0.0, self.clock

    def finish(self, me: Task) -> None:
        """`me` has ended: wake its joiners and hand the baton on, for good."""
        self.tampered = self.tampered or _intact()
        with self.guard:
            me.state = DONE
            self.wake(me)
        if not self.free:
            self._next(me, done=True)

    def _candidates(self) -> list[Task]:
        """Who may run next: the runnable tasks (oldest first), then the ones whose sleep or
        timeout ends first. Choosing one of those moves the virtual clock to its wake-up: a
        runnable thread can always be slower than another one's sleep, but not for more than
        FAIR virtual seconds (as no OS starves a runnable thread): a thread that polls with
        sleep() cannot keep the others from running."""
        ready = sorted((t for t in self.tasks.values() if t.state == RUNNABLE),
                       key=lambda t: t.id)
        waiting = [t for t in self.tasks.values() if t.state in (SLEEPING, BLOCKED)
                   and t.wake_at < math.inf]
        if waiting and (not ready or min(t.wake_at for t in waiting)
                        - min(t.since for t in ready) <= FAIR):
            first = min(t.wake_at for t in waiting)
            ready += sorted((t for t in waiting if t.wake_at == first), key=lambda t: t.id)
        return ready

    def _wake_up(self, t: Task) -> None:
        if t.state != RUNNABLE:  # a sleeper chosen: the clock moves to its wake-up
            self.clock = max(self.clock, t.wake_at)
            for other in self.tasks.values():
                if other.state in (SLEEPING, BLOCKED) and other.wake_at <= self.clock:
                    self.runnable(other)

    def _next(self, me: Task, done: bool = False) -> None:
        with self.guard:
            if self.free:
                return
            ready = self._candidates()
            if not ready:
                stuck = [t for t in self.tasks.values() if t.state == BLOCKED]
                if not stuck:
                    self.running = None
                    return
                self.problem = "deadlock: " + ", ".join(
                    f"{t.name} waits for {_name_of(t.waiting_on)}" for t in stuck)
                self.events.append([len(self.events) + 1, me.id, "deadlock", "", "", ""])
                for t in stuck:
                    t.error = Deadlock(self.problem)
                    t.state = RUNNABLE
                ready = stuck
            self.seen.append((tuple((t.id, t.state == RUNNABLE) for t in ready),
                              -1 if done else me.id, self.steps))
            nxt = self.strategy.choose(ready, None if done else me, self.steps, len(self.choices))
            self._wake_up(nxt)
            nxt.since = self.clock
            if nxt is not me and not done and me.state == RUNNABLE:
                self.preempts.append(len(self.choices))
            self.choices.append(nxt.id)
            self.decided_by.append(me.id)
            self.running = nxt
            if nxt is me:
                return
            nxt.baton.release()
        if not done:
            me.baton.acquire()

    def give_up(self, why: str) -> None:
        """Stop controlling: every thread runs free from now on (never a hang)."""
        with self.guard:
            if self.free:
                return
            self.free = True
            self.problem = self.problem or why
            for t in self.tasks.values():
                try:
                    t.baton.release()
                except RuntimeError:
                    pass

    def label_of(self, task: Task) -> str:
        return f"thread {task.id}"


def _name_of(thing: object) -> str:
    if isinstance(thing, Task):
        return f"{thing.name} to end"
    return getattr(thing, "label", "a lock")


def _stack_of(t: Task | None) -> str:
    import traceback

    if t is None:
        return ""
    for ident, task in list(_active.by_ident.items()) if _active else []:
        if task is t:
            frame = sys._current_frames().get(ident)
            return "".join(traceback.format_stack(frame)[-4:]) if frame else ""
    return ""


def _show(value: object) -> str:
    if value is _NOTHING:
        return ""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a student's __repr__
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 40 else text[:37] + "..."


# ---------------------------------------------------------------- primitives for student code


class Lock:
    """threading.Lock under the scheduler: acquire and release are scheduling points."""

    def __init__(self, _real=None):
        self._real = _real or _thread.allocate_lock()

    @property
    def label(self) -> str:
        """`lock N`, numbered in the order the schedule first uses them."""
        names = _active.lock_names if _active else {}
        return names.setdefault(id(self), f"lock {len(names) + 1}")

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        s = _active
        me = s.task() if s else None
        if me is None:
            return self._real.acquire(blocking, timeout)
        where = _caller()
        s.point(me, "acquire", where, self.label, record=False)
        until = s.clock + timeout if blocking and timeout is not None and timeout >= 0 else None
        while not self._real.acquire(False):
            if not blocking or (until is not None and s.clock >= until):
                return False
            s.block(me, self, until)
            if s.task() is None:  # control was given up while it waited
                return self._real.acquire(blocking, timeout)
        s.note(me, "acquire", where, self.label)
        return True

    def release(self) -> None:
        self._real.release()
        s = _active
        me = s.task() if s else None
        if me is not None:
            with s.guard:
                s.wake(self, first_only=True)
            where = _caller()
            s.note(me, "release", where, self.label)
            s.point(me, "release", where, self.label, record=False)

    def locked(self) -> bool:
        return self._real.locked()

    __enter__ = acquire

    def __exit__(self, *exc) -> None:
        self.release()

    def _at_fork_reinit(self) -> None:
        self._real = _thread.allocate_lock()


class RLock(Lock):
    """threading.RLock under the scheduler."""

    def __init__(self, _real=None):
        super().__init__(_real or _thread.RLock())

    def _is_owned(self) -> bool:
        return self._real._is_owned()


class Thread(threading.Thread):
    """threading.Thread under the scheduler: start and join are scheduling points, and the
    new thread waits for its turn before its run() begins."""

    _task: Task | None = None

    def start(self) -> None:
        s = _active
        me = s.task() if s else None
        if me is None:
            return super().start()
        task = s.spawn(self.name)
        self._task = task
        run = self.run

        def controlled_run():
            s.bind(task)
            instrument_thread()
            try:
                if task.error is None:
                    run()
            finally:
                s.finish(task)

        self.run = controlled_run
        super().start()
        where = _caller()
        s.note(me, "start", where, s.label_of(task))
        s.point(me, "start", where, s.label_of(task), record=False)

    def join(self, timeout: float | None = None) -> None:
        s = _active
        me = s.task() if s else None
        task = self._task
        if me is None or task is None or task not in s.tasks.values():
            return super().join(timeout)
        where = _caller()
        s.point(me, "join", where, s.label_of(task), record=False)
        until = s.clock + timeout if timeout is not None else None
        while task.state != DONE and s.task() is not None:
            if until is not None and s.clock >= until:
                return
            s.block(me, task, until)
        s.note(me, "join", where, s.label_of(task))
        super().join(None if s.task() is not None else timeout)


def start_new_thread(function, args, kwargs=None) -> int:
    """`_thread.start_new_thread` under the scheduler: a controlled thread like any other,
    which nobody can join, so the scheduler lets it end before the call is judged."""
    t = Thread(target=function, args=tuple(args), kwargs=kwargs or {}, daemon=True)
    t.start()
    if t._task is not None:
        t._task.unjoinable = True
    return t.ident


class Condition(threading.Condition):
    """threading.Condition under the scheduler: wait() blocks on the scheduler, notify()
    wakes the waiters in order; its lock is a controlled RLock unless one is given."""

    def __init__(self, lock=None):
        super().__init__(lock if lock is not None else RLock())
        self._kit_waiters: list[Task] = []

    def wait(self, timeout: float | None = None) -> bool:
        s = _active
        me = s.task() if s else None
        if me is None:
            return super().wait(timeout)
        if not self._is_owned():
            raise RuntimeError("cannot wait on un-acquired lock")
        where = _caller()
        s.note(me, "wait", where, self.label)
        saved = self._release_save()
        with s.guard:
            s.wake(self._lock, first_only=True)
        self._kit_waiters.append(me)
        until = s.clock + timeout if timeout is not None else None
        try:
            s.block(me, self, until)
        finally:
            notified = me not in self._kit_waiters
            if not notified:
                self._kit_waiters.remove(me)
            self._acquire_restore(saved)
        return notified

    def notify(self, n: int = 1) -> None:
        s = _active
        me = s.task() if s else None
        if me is None:
            return super().notify(n)
        if not self._is_owned():
            raise RuntimeError("cannot notify on un-acquired lock")
        s.note(me, "notify", _caller(), self.label)
        for t in self._kit_waiters[:n]:
            self._kit_waiters.remove(t)
            if t.state == BLOCKED and t.waiting_on is self:
                s.runnable(t)

    def notify_all(self) -> None:
        s = _active
        if s is None or s.task() is None:  # uncontrolled (or control given up): the real
            return super().notify_all()    # waiters, every one of them
        self.notify(len(self._kit_waiters) or 1)

    def _acquire_restore(self, saved) -> None:
        if isinstance(self._lock, Lock):
            self._lock.acquire()
        else:
            super()._acquire_restore(saved)

    def _release_save(self):
        if isinstance(self._lock, RLock):
            owned = 0
            while self._lock._is_owned():
                self._lock._real.release()
                owned += 1
            return owned
        if isinstance(self._lock, Lock):
            self._lock._real.release()
            return None
        return super()._release_save()

    def _is_owned(self) -> bool:
        if isinstance(self._lock, RLock):
            return self._lock._is_owned()
        if isinstance(self._lock, Lock):
            return self._lock.locked()
        return super()._is_owned()

    @property
    def label(self) -> str:
        return getattr(self._lock, "label", "a condition")


class Semaphore(threading.Semaphore):
    def __init__(self, value: int = 1):
        super().__init__(value)
        self._cond = Condition(Lock())


class BoundedSemaphore(threading.BoundedSemaphore):
    def __init__(self, value: int = 1):
        super().__init__(value)
        self._cond = Condition(Lock())


class Event(threading.Event):
    def __init__(self):
        super().__init__()
        self._cond = Condition(Lock())


class Barrier(threading.Barrier):
    def __init__(self, parties: int, action=None, timeout=None):
        super().__init__(parties, action, timeout)
        self._cond = Condition(Lock())


def sleep(seconds: float) -> None:
    """time.sleep on the virtual clock: the thread waits until every other one waits too."""
    s = _active
    me = s.task() if s else None
    if me is None:
        return _real_sleep(seconds)
    s.point(me, "sleep", _caller(), f"{seconds:g} s")
    s.block(me, None, s.clock + max(0.0, float(seconds)))


def _caller() -> str:
    """file:line of the student code that called a primitive."""
    s = _active
    f = sys._getframe(2)
    while f is not None:
        if s and f.f_code.co_filename.startswith(s.prefix):
            return f"line {f.f_lineno}"
        f = f.f_back
    return ""


class _Facade(types.ModuleType):
    """A module that stands in for `threading` or `time` in the student's module only."""

    def __init__(self, real: types.ModuleType, **over):
        super().__init__(real.__name__)
        self.__dict__.update(over)
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)


def control_module(module: types.ModuleType) -> callable:
    """Make `module` use the controlled primitives; return the function that undoes it."""
    ours = dict(Lock=Lock, RLock=RLock, Thread=Thread, Condition=Condition,
                Semaphore=Semaphore, BoundedSemaphore=BoundedSemaphore, Event=Event,
                Barrier=Barrier)
    raw = dict(allocate_lock=Lock, allocate=Lock, RLock=RLock, start_new_thread=start_new_thread,
               start_new=start_new_thread)  # _thread's names (allocate, start_new: < 3.13)
    raw = {name: value for name, value in raw.items() if hasattr(_thread, name)}
    swaps = {threading: _Facade(threading, **ours), _time: _Facade(_time, sleep=sleep),
             _thread: _Facade(_thread, **raw), _time.sleep: sleep,
             **{getattr(_thread, name): value for name, value in raw.items()},
             **{getattr(threading, name): value for name, value in ours.items()}}
    saved, rebased = {}, []
    real_lock, real_rlock = type(_thread.allocate_lock()), type(_thread.RLock())
    for value in list(vars(module).values()):  # its own subclasses of threading.Thread
        if isinstance(value, type) and threading.Thread in value.__bases__ \
                and getattr(value, "__module__", None) == module.__name__:
            bases = value.__bases__
            try:
                value.__bases__ = tuple(Thread if b is threading.Thread else b for b in bases)
                rebased.append((value, bases))
            except TypeError:  # a layout of its own (__slots__): it stays uncontrolled
                pass
    for name, value in list(vars(module).items()):
        if type(value) in (real_lock, real_rlock):  # a lock made at import: same lock, watched
            saved[name] = value
            wrapper = Lock(value) if type(value) is real_lock else RLock(value)
            setattr(module, name, wrapper)
            continue
        try:
            new = swaps.get(value)
        except TypeError:  # unhashable
            continue
        if new is not None:
            saved[name] = value
            setattr(module, name, new)

    def undo():
        for name, value in saved.items():
            setattr(module, name, value)
        for cls, bases in rebased:
            cls.__bases__ = bases

    return undo


# ------------------------------------------------------------ shared accesses in student code

_LOADS = ("LOAD_FAST", "LOAD_DEREF", "LOAD_GLOBAL", "LOAD_NAME", "LOAD_CLASSDEREF")
_READS = {"LOAD_ATTR", "LOAD_GLOBAL", "LOAD_DEREF", "LOAD_CLASSDEREF", "LOAD_NAME",
          "BINARY_SUBSCR", "LOAD_SUPER_ATTR", "LOAD_METHOD"}  # LOAD_METHOD: 3.10/3.11
# A call of one of these methods on a built-in container changes it: a write to it, as a
# store is (`marks.append(1)` under a lock counts a thread as one that wrote shared state).
_MUTATORS = {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse",
             "add", "discard", "update", "setdefault", "popitem", "difference_update",
             "intersection_update", "symmetric_difference_update", "appendleft",
             "extendleft", "popleft", "rotate", "__setitem__", "__delitem__", "__iadd__"}
_CONTAINERS = (list, dict, set, bytearray, collections.deque)
_WRITES = {"STORE_ATTR", "STORE_GLOBAL", "STORE_DEREF", "STORE_NAME", "STORE_SUBSCR",
           "DELETE_SUBSCR", "DELETE_ATTR"}
_tables: dict[types.CodeType, dict[int, tuple]] = {}


def _table(code: types.CodeType) -> dict[int, tuple]:
    """offset -> (kind, op, name, object candidates, key) for the shared accesses of `code`."""
    if code in _tables:
        return _tables[code]
    ins = list(dis.get_instructions(code))
    found = {}
    for i, x in enumerate(ins):
        if x.opname not in _READS and x.opname not in _WRITES:
            continue
        kind = "read" if x.opname in _READS else "write"
        objs = []  # (how, name, key) of the objects this access may be on, nearest first
        for j in range(i - 1, max(-1, i - 13), -1):
            b = ins[j]
            if b.opname.startswith(_LOADS):
                after = ins[j + 1] if j + 1 < i else None
                if after is not None and after.opname == "LOAD_CONST":
                    key = ("const", after.argval)
                elif after is not None and after.opname.startswith(_LOADS):
                    key = (after.opname, after.argval)
                else:
                    key = None
                name = b.argval[-1] if isinstance(b.argval, tuple) else b.argval
                objs.append((b.opname, name, key))
        found[x.offset] = (kind, x.opname, x.argval, objs, None)
    _tables[code] = found
    return found


def _lookup(frame, how: str, name: str):
    if how.startswith(("LOAD_FAST", "LOAD_DEREF", "LOAD_CLASSDEREF")):
        return frame.f_locals.get(name, _NOTHING)
    if name in frame.f_globals:
        return frame.f_globals[name]
    return frame.f_builtins.get(name, _NOTHING)


_RAW_LOCK = type(_thread.allocate_lock())


def _plumbing(value) -> bool:
    """Not shared data: code, modules, classes, locks, threads."""
    return (value is not _NOTHING and (callable(value) or isinstance(
        value, (types.ModuleType, Lock, threading.Thread, Scheduler, _RAW_LOCK))))


def _access(frame, offset: int, code: types.CodeType):
    """(kind, label, value) of the shared access at `offset` of `code` (the frame's), or None
    when it is none."""
    entry = _table(code).get(offset)
    if entry is None:
        return None
    kind, op, name, objs, key = entry
    if op.endswith(("GLOBAL", "NAME", "DEREF")):
        value = _lookup(frame, "LOAD_DEREF" if "DEREF" in op else "LOAD_GLOBAL", name)
        if op.startswith("LOAD") and _plumbing(value):
            return None
        return kind, name, value
    if op.endswith("SUBSCR"):
        for how, obj_name, key in objs:
            obj = _lookup(frame, how, obj_name)
            if obj is _NOTHING or _plumbing(obj) or key is None:
                continue
            k = key[1] if key[0] == "const" else _lookup(frame, key[0], key[1])
            try:
                value = obj[k]
            except Exception:  # noqa: BLE001 - not this container, or a key not there yet
                value = _NOTHING
                if kind == "read":
                    continue
            return kind, f"{obj_name}[{k!r}]", value
        return kind, "[...]", _NOTHING
    for how, obj_name, _key in objs:  # attributes
        obj = _lookup(frame, how, obj_name)
        if obj is _NOTHING:
            continue
        if name in _MUTATORS and isinstance(obj, _CONTAINERS):
            return "write", f"{obj_name}.{name}()", obj
        try:
            value = getattr(obj, name)
        except Exception:  # noqa: BLE001 - not this object, or a property that raises
            continue
        if _plumbing(value) or (_plumbing(obj) and not isinstance(obj, type)):
            return None  # a class's data attribute (Tally.n) is shared state, its methods not
        return kind, f"{obj_name}.{name}", value
    return kind, f"?.{name}", _NOTHING


def _on_access(frame, offset: int, code: types.CodeType) -> None:
    s = _active
    me = s.task() if s else None
    if me is None:
        return
    found = _access(frame, offset, code)
    if found is not None:
        kind, label, _ = found
        where = f"line {frame.f_lineno}"
        s.point(me, kind, where, label,
                lambda: (_access(frame, offset, code) or (0, 0, _NOTHING))[2])


# The sys.monitoring tool id of the scheduling points (no standard tool claims 4; 0-2 and 5
# are named); graders/_guard.py hides it from student code.
_MONITOR = 4


def _intact() -> str:
    """On 3.12+: what of the scheduler's sys.monitoring tool student code switched off (no
    audit event tells), or ""."""
    mon = getattr(sys, "monitoring", None)
    if mon is None or _active is None or _active.free:
        return ""
    if mon.get_tool(_MONITOR) != "kit-scheduler":
        return "sys.monitoring tool freed"
    if mon.get_events(_MONITOR) != mon.events.PY_START:
        return "sys.monitoring.set_events() changed"
    for code in _instrumented:
        if mon.get_local_events(_MONITOR, code) != mon.events.INSTRUCTION:
            return f"sys.monitoring.set_local_events() changed for {code.co_name}()"
    return ""


_instrumented: set = set()  # the student's code objects with scheduling points (3.12+)


def instrument(prefix: str) -> callable:
    """Make scheduling points at the shared accesses of code under `prefix`; return undo.
    Student code cannot switch them off (graders/_guard.py; `_intact` on 3.12+)."""

    _guard.arm()
    if hasattr(sys, "monitoring"):
        mon = sys.monitoring
        mon.use_tool_id(_MONITOR, "kit-scheduler")
        mon.restart_events()  # DISABLEs of an earlier schedule must not hold in this one
        codes = _instrumented
        codes.clear()

        def started(code, offset):
            if code.co_filename.startswith(prefix) and code not in codes:
                codes.add(code)
                mon.set_local_events(_MONITOR, code, mon.events.INSTRUCTION)
            return mon.DISABLE

        def instruction(code, offset):
            if offset not in _table(code):
                return mon.DISABLE
            _on_access(sys._getframe(1), offset, code)
            return None

        mon.register_callback(_MONITOR, mon.events.PY_START, started)
        mon.register_callback(_MONITOR, mon.events.INSTRUCTION, instruction)
        mon.set_events(_MONITOR, mon.events.PY_START)

        def undo():
            _guard.disarm()
            if mon.get_tool(_MONITOR) is None:  # freed by student code: noted by _intact
                return
            mon.set_events(_MONITOR, 0)
            for code in codes:
                mon.set_local_events(_MONITOR, code, 0)
            mon.register_callback(_MONITOR, mon.events.PY_START, None)
            mon.register_callback(_MONITOR, mon.events.INSTRUCTION, None)
            mon.free_tool_id(_MONITOR)

        return undo

    def call(frame, event, arg):
        code = frame.f_code  # read once per call: every read of f_code is an audit event
        if not code.co_filename.startswith(prefix):
            return None
        frame.f_trace_opcodes = True
        table = _table(code)

        def local(frame, event, arg):  # most opcodes are no shared access: only a lookup
            if event == "opcode" and frame.f_lasti in table:
                _on_access(frame, frame.f_lasti, code)
            return local

        return local

    before = sys.gettrace()
    sys.settrace(call)
    _tracer[0] = call

    def undo():
        sys.settrace(before)
        _tracer[0] = None
        _guard.disarm()

    return undo


_tracer: list = [None]


def instrument_thread() -> None:
    """In a new controlled thread: the opcode tracer too (sys.monitoring covers all threads)."""
    if _tracer[0] is not None:
        sys.settrace(_tracer[0])


# ---------------------------------------------------------------------------------- search


class Watchdog:
    """One real thread for a whole search: gives up control of the schedule that runs now
    when no step happens for STALL seconds."""

    def __init__(self):
        self.current: Scheduler | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        last, since, watched = -1, _time.monotonic(), None
        while not self.done.wait(0.05):
            s = self.current
            if s is not watched or s is None or s.steps != last:
                watched, last, since = s, (s.steps if s else -1), _time.monotonic()
            elif _time.monotonic() - since > STALL:
                s.give_up(f"a thread blocked where the scheduler cannot see for {STALL:g} s "
                          f"(not a threading primitive of your module, or C code):\n"
                          f"{_stack_of(s.running)}")

    def stop(self) -> None:
        self.done.set()


def _one_cpu() -> set[int] | None:
    """Linux: put the calling thread, and so every thread it starts, on the CPU it runs on now;
    returns the CPUs it was allowed before (None where nothing changed). Only one thread of a
    schedule runs at a time, so nothing is lost, and passing the baton is then a switch on one
    CPU: a lock handed back and forth between two threads takes 16 us here on one CPU, 79 us
    across two (the other CPU has to be woken too), and a search is mostly such handoffs."""
    try:
        allowed = os.sched_getaffinity(0)
        with open("/proc/thread-self/stat", "rb") as f:  # field 39: the CPU it last ran on
            cpu = int(f.read().rsplit(b")", 1)[1].split()[36])
        if len(allowed) < 2 or cpu not in allowed:
            return None

        _guard.pinned(allowed)  # student code still sees `allowed`
        os.sched_setaffinity(0, {cpu})
        return allowed
    except (AttributeError, OSError, ValueError, IndexError):  # not Linux, or not allowed
        return None


def _all_cpus(allowed: set[int] | None) -> None:
    if allowed is not None:
        try:
            os.sched_setaffinity(0, allowed)
        except OSError:
            pass

        _guard.pinned(None)


def run_schedule(body, strategy, prefix: str, module: types.ModuleType | None = None,
                 watchdog: Watchdog | None = None) -> dict:
    """Run body() once under `strategy`; return what it returned or raised, and the schedule."""
    global _active
    s = Scheduler(strategy, prefix)
    undo_module = control_module(module) if module is not None else (lambda: None)
    _active = s
    own = watchdog is None
    watchdog = watchdog or Watchdog()
    watchdog.current = s
    me = s.adopt("main")

    _guard.state["tried"] = ""
    undo_trace = instrument(prefix)
    real_start = threading.Thread.start

    def start(thread):  # a thread of a library (a ThreadPoolExecutor's): not controlled
        if s.task() is not None and not isinstance(thread, Thread):
            s.give_up(f"a thread the scheduler does not control was started "
                      f"({type(thread).__module__}.{type(thread).__name__} {thread.name}): "
                      f"threads must be threading.Thread objects of your module")
        return real_start(thread)

    real_start_new = _thread.start_new_thread

    def start_new(function, *args, **kwargs):  # _thread imported where control_module
        if s.task() is not None:                # could not swap it
            s.give_up("a thread the scheduler does not control was started with "
                      "_thread.start_new_thread")
        return real_start_new(function, *args, **kwargs)

    threading.Thread.start, _thread.start_new_thread = start, start_new
    outcome: dict = {}
    cpus = _one_cpu() if own else None  # a search (explore) is on one CPU already
    try:
        outcome["value"] = body()
        for t in list(s.tasks.values()):  # _thread's threads end before the call is judged
            while t.unjoinable and t.state != DONE and s.task() is me:
                s.block(me, t)
    except BaseException as e:  # noqa: BLE001 - a finding about the student's code
        outcome["raised"] = f"{type(e).__name__}: {e}"
    finally:
        threading.Thread.start, _thread.start_new_thread = real_start, real_start_new
        _all_cpus(cpus)
        s.tampered = s.tampered or _intact() or _guard.state["tried"]
        undo_trace()
        left = [t.name for t in s.tasks.values() if t.state != DONE and t is not me]
        s.give_up(s.problem or (f"threads still running when the call returned: {left}"
                                if left else "finished"))
        watchdog.current = None
        if own:
            watchdog.stop()
        _active = None
        undo_module()
    if left:
        outcome["left"] = left
    problem = "" if s.problem == "finished" else s.problem
    return {**outcome, "steps": s.steps, "threads": len(s.tasks), "choices": s.choices,
            "events": s.events, "problem": problem,
            "decided_by": s.decided_by, "preempted_at": s.preempts, "seen": s.seen,
            "preemptions": len(s.preempts), "virtual_s": s.clock, "tampered": s.tampered,
            "diverged": getattr(strategy, "diverged", ""), "strategy": strategy.name}


class _Seen:
    """A candidate as a strategy sees it, in a schedule known without running it."""

    def __init__(self, tid: int):
        self.id, self.state, self.priority = tid, RUNNABLE, 0.0


def digest(events: list) -> list[str]:
    """One short hash per step: who ran and what it did there (for replay checks). Made only
    for a failing schedule, the one saved and replayed: hashing every run cost 5% of a search."""
    import hashlib  # here: its OpenSSL start costs every grading child ~4 ms

    return [hashlib.sha256(repr(e[1:5]).encode()).hexdigest()[:8] for e in events]


def _twin(strategy):
    """A copy of `strategy` that chooses from here as it would: its random stream is its own
    but at the same point. A strategy's only state that choosing changes is that stream (a
    shallow copy of a Random copies its state; copy.deepcopy would copy the state's 625
    numbers one by one: that was half of a search's time)."""
    import copy

    twin = copy.copy(strategy)
    for name, value in vars(strategy).items():
        if isinstance(value, random.Random):
            setattr(twin, name, copy.copy(value))
    return twin


class Known:
    """The schedules already run, as a tree of decisions: a strategy whose choices lead only
    through known decisions to a known end would run a schedule that ran before, so its
    outcome is known without running it again (student code is deterministic under a fixed
    schedule; that is what replay relies on, and a run that contradicts the tree switches
    the tree off). Many PCT samples of a small program are the same schedule: each still
    counts as a sample towards the PCT bound, it just costs nothing."""

    def __init__(self):
        self.root: dict = {}
        self.off = False

    def add(self, run: dict) -> None:
        node = self.root
        for seen, choice in zip(run["seen"], run["choices"], strict=True):
            if "end" in node or node.setdefault("seen", seen) != seen:
                self.off = True  # the same choices met another situation: nondeterminism
                return
            node = node.setdefault("next", {}).setdefault(choice, {})
        if node.get("seen"):
            self.off = True
        node["end"] = True

    def knows(self, strategy) -> bool:
        """Would `strategy` (a copy of it: choosing changes a strategy) run a known one?"""
        if self.off:
            return False
        strategy, node, tasks = _twin(strategy), self.root, {}
        decision = 0
        while "end" not in node:
            if "seen" not in node:
                return False
            candidates, me_id, steps = node["seen"]
            ready = []
            for tid, runnable in candidates:
                t = tasks.get(tid)
                if t is None:
                    t = tasks[tid] = _Seen(tid)
                t.state = RUNNABLE if runnable else BLOCKED
                ready.append(t)
            me = None
            if me_id >= 0:
                me = tasks.get(me_id)
                if me is None:
                    me = tasks[me_id] = _Seen(me_id)
                if all(tid != me_id for tid, _ in candidates):
                    me.state = BLOCKED
            node = node["next"].get(strategy.choose(ready, me, steps, decision).id)
            if node is None:
                return False
            decision += 1
        return True


def tampering(r: dict) -> list | None:
    """Student code that switched the scheduling points off fails: what it did is not what
    it would do unwatched, and a pass proves nothing."""
    if not r.get("tampered"):
        return None
    from graders._mark import N_

    return [N_("switched off the graders' scheduling points ({how}): code under test must "
               "not touch sys.settrace, sys.setprofile or sys.monitoring"),
            {"how": r["tampered"]}]


def schedules_for(n: int, k: int, depth: int = 2, target: float = 0.99) -> int:
    """PCT schedules needed for probability `target` of finding a depth-`depth` bug."""
    p = 1.0 / (max(n, 1) * max(k, 1) ** (depth - 1))
    return math.ceil(math.log(1 - target) / math.log(1 - p)) if p < 1 else 1


def explore(body, check, prefix: str, module=None, seed: int = 0, budget: float = 3.0,
            replay: list[int] | None = None) -> dict:
    """Search schedules of body() for one where check(outcome) returns a complaint.

    Returns {"found": the shrunk failing schedule or None, "schedules": how many the search
    tried, "executions": how many of them (and of the shrinking) really ran (a schedule that
    already passed is known, see Known), "k", "n", "bound" (the PCT guarantee reached for
    depth-2 bugs), "uncontrolled": why control was given up, if it was}."""
    started = _time.monotonic()
    cpus = _one_cpu()
    watchdog = Watchdog()
    known = Known()

    def attempt(strategy):
        attempt.runs += 1
        r = run_schedule(body, strategy, prefix, module, watchdog)
        r["complaint"] = tampering(r) or check(r)
        if r["complaint"]:
            r["digest"] = digest(r["events"])
        elif not r["problem"]:
            known.add(r)
        return r

    def sample(strategy):
        """A schedule of the search: run it, unless the same one passed before."""
        sample.count += 1
        if known.knows(strategy):
            return {"complaint": None, "problem": "", "known": True}
        return attempt(strategy)

    attempt.runs = 0
    sample.count = 0
    attempt.sample = sample
    try:
        return _explore(attempt, seed, budget, replay, started)
    finally:
        watchdog.stop()
        _all_cpus(cpus)


def _explore(attempt, seed, budget, replay, started) -> dict:
    if replay is not None:
        r = attempt(Replay(replay))
        return {"found": r if r["complaint"] else None, "schedules": 1, "executions": 1,
                "replayed": r, "k": r["steps"], "n": r["threads"], "bound": 0.0,
                "uncontrolled": r["problem"]}
    first = attempt(Sticky())
    k, n = max(first["steps"], 1), max(first["threads"], 1)
    summary = {"k": k, "n": n, "schedules": 1, "executions": 1, "bound": 0.0,
               "uncontrolled": "", "pct_needed": schedules_for(n, k)}
    if first["problem"] and not first["problem"].startswith("deadlock"):
        summary["uncontrolled"] = first["problem"]  # what ran free proves nothing either way
        summary.update(found=None, seconds=round(_time.monotonic() - started, 3))
        return summary
    failing = first if first["complaint"] else None
    plans = [PreemptOnce(at, which) for at in range(1, k + 1) for which in range(max(n - 1, 1))]
    rng = random.Random(seed)
    pct_runs = 0
    while failing is None and _time.monotonic() - started < budget:
        if plans:
            strategy = plans.pop(0)
        elif rng.random() < 0.95:  # PCT, mostly depth 2; one schedule in 20 a random walk
            depth = 2 if rng.random() < 0.9 else 3
            strategy = PCT(rng.randrange(2**31), depth, k)
            pct_runs += depth == 2
        else:
            strategy = RandomWalk(rng.randrange(2**31))
        r = attempt.sample(strategy)
        if r["problem"] and not r["problem"].startswith("deadlock"):
            summary["uncontrolled"] = r["problem"]
            break
        if r["complaint"]:
            failing = r
        if not plans and pct_runs >= summary["pct_needed"]:
            break
    p = 1.0 / (n * k)
    summary["bound"] = 1 - (1 - p) ** pct_runs
    summary["schedules"] = attempt.sample.count + 1  # the first, unpreempted one too
    summary["executions"] = attempt.runs  # of them, or to shrink one, really run
    summary["pct_runs"] = pct_runs
    summary["seconds"] = round(_time.monotonic() - started, 3)
    if failing is not None:
        found_by = failing["strategy"]
        failing = shrink(failing, attempt)
        failing["found_by"] = found_by
        again = attempt(Replay(failing["choices"]))
        failing["replays"] = bool(again["complaint"]) and again["digest"] == failing["digest"]
    summary["found"] = failing
    return summary


def shrink(failing: dict, attempt) -> dict:
    """Fewer preemptions, same failure: at one preemption after another, stay with the thread
    that was running, then go on without preempting; keep it when it still fails."""
    best = failing
    for _ in range(20):
        better = None
        for i in best["preempted_at"]:
            trial = best["choices"][:i] + [best["decided_by"][i]]
            r = attempt(_Prefix(trial))
            if r["complaint"] and r["preemptions"] < best["preemptions"]:
                better = r
                break
        if better is None:
            return best
        best = better
    return best


class _Prefix(Replay):
    """The given choices, then no preemption."""

    name = "shrunk"

    def choose(self, runnable, me, step, decision):
        if decision < len(self.choices):
            want = next((t for t in runnable if t.id == self.choices[decision]), None)
            if want is not None:
                return want
        return Sticky.choose(self, runnable, me, step, decision)


def plain(summary: dict) -> dict:
    """The search's summary as JSON data for the grader (values as their repr)."""
    out = dict(summary)
    for key in ("found", "replayed"):
        run = out.get(key)
        if run:
            run = dict(run)
            run.pop("seen", None)
            if "value" in run:
                run["value"] = _show(run["value"])
            out[key] = run
    return out


# --------------------------------------------------------------- for the grader: show it


def word(complaint) -> str:
    """A scenario's complaint ([message, values], or plain text) in the run's language."""
    from graders.i18n import _

    if isinstance(complaint, list) and len(complaint) == 2:
        return _(complaint[0]).format(**complaint[1])
    return str(complaint)


def strategy_words(name) -> str:
    """A strategy's name as a record keeps it (found_by: "PCT depth 3, seed 7"), in the run's
    language."""
    import re

    from graders.i18n import N_, _

    for pattern, message in (
            (r"no preemption", N_("no preemption")),
            (r"one preemption, at step (?P<at>\d+)", N_("one preemption, at step {at}")),
            (r"PCT depth (?P<depth>\d+), seed (?P<seed>-?\d+)",
             N_("PCT depth {depth}, seed {seed}")),
            (r"random walk, seed (?P<seed>-?\d+)", N_("random walk, seed {seed}")),
            (r"replay", N_("replay")), (r"shrunk", N_("shrunk"))):
        found = re.fullmatch(pattern, str(name or ""))
        if found:
            return _(message).format(**found.groupdict())
    return str(name)


def thread_names(ids) -> dict[int, str]:
    from graders.i18n import _

    return {i: _("main (your function)") if i == 0 else _("thread {n}").format(n=i)
            for i in ids}


def lanes(found: dict, names: dict[int, str] | None = None, limit: int = 40) -> str:
    """The failing schedule as per-thread columns, the conflicting accesses marked."""
    from graders.i18n import _

    events = found["events"]
    ids = sorted({e[1] for e in events})
    title = {**thread_names(ids), **(names or {})}
    marked = set(conflict(events)[0])
    width = 34
    step = _("step")
    rows = [_pad(step, 6) + " | ".join(_pad(title[i], width) for i in ids)]
    keep = _window(events, marked, limit)
    for n, e in enumerate(events):
        if n not in keep:
            if n - 1 in keep:
                rows.append("  ..")
            continue
        step, tid, kind, where, label, value = e
        text = f"{kind} {label}{' = ' + value if value and kind == 'read' else ''}"
        text += f" ({where})" if where else ""
        text = ("<< " if n in marked else "") + text
        cells = [_pad(text if i == tid else "", width) for i in ids]
        rows.append(f"{step:>4}  " + " | ".join(cells))
    return "\n".join(r.rstrip() for r in rows)


def _pad(text: str, width: int) -> str:
    """`text` cut or padded to `width` columns of a terminal (CJK characters take two)."""
    import unicodedata

    out, used = "", 0
    for ch in text:
        w = 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if used + w > width:
            break
        out, used = out + ch, used + w
    return out + " " * (width - used)


def _window(events: list, marked: set, limit: int) -> set:
    if len(events) <= limit:
        return set(range(len(events)))
    keep = set()
    for m in sorted(marked) or [len(events) - 1]:
        keep |= set(range(max(0, m - 4), min(len(events), m + 3)))
    return keep


def conflict(events: list) -> tuple[list[int], str]:
    """The accesses that make the bug, and a one-line diagnosis (in the run's language)."""
    from graders.i18n import _

    for n, e in enumerate(events):
        if e[2] == "deadlock":
            return [n], _("deadlock: every thread waits for a lock or a thread that another "
                          "holds")
    last_read: dict[tuple, int] = {}
    for n, e in enumerate(events):
        step, tid, kind, where, label, value = e
        if kind == "read" and label:
            last_read[(tid, label)] = n
        elif kind == "write" and label and (tid, label) in last_read:
            r = last_read[(tid, label)]
            other = next((m for m in range(r + 1, n) if events[m][2] == "write"
                          and events[m][4] == label and events[m][1] != tid), None)
            if other is not None:
                return [r, other, n], _(
                    "lost update: thread {a} read {label}, thread {b} wrote it, then thread "
                    "{a} wrote back a value based on its stale read").format(
                        a=tid, label=label, b=events[other][1])
    for n, e in enumerate(events):  # a read after the reader released its lock
        if e[2] != "read" or not e[4]:
            continue
        mine = [m for m in range(n) if events[m][1] == e[1]]
        if mine and events[mine[-1]][2] == "release":
            rel = mine[-1]
            other = next((m for m in range(rel + 1, n) if events[m][2] == "write"
                          and events[m][4] == e[4] and events[m][1] != e[1]), None)
            if other is not None:
                return [rel, other, n], _(
                    "read after the lock was released: thread {a} released {lock}, thread "
                    "{b} wrote {label}, then thread {a} read {label}, no longer the value it "
                    "wrote").format(a=e[1], lock=events[rel][4], b=events[other][1],
                                    label=e[4])
    if not found_preempted(events):
        return [], _("wrong in every schedule: no other thread had to run at a bad moment")
    return [], _("atomicity violation: another thread ran between steps that must be one")


def found_preempted(events: list) -> bool:
    """Whether any thread was switched away from in the middle of its own steps."""
    return any(a[1] != b[1] and b[1] != 0 and a[1] != 0
               for a, b in zip(events, events[1:], strict=False))


# --------------------------------------------------------------- for the grader: keep it


def save(folder, test_id: str, record: dict) -> tuple[str, str]:
    """Write reports/schedules/<test>.json and reports/timelines/<test>.html; return both
    paths (the page is "" when Jinja2 is missing). The record names its own path."""
    import json
    import os
    import re

    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_id).strip("_")
    json_path = os.path.join(str(folder), "schedules", f"{safe}.json")
    html_path = os.path.join(str(folder), "timelines", f"{safe}.html")
    record["path"] = json_path
    os.makedirs(os.path.dirname(json_path), exist_ok=True)
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1)
    try:
        page = timeline_page(record)
    except ImportError:
        return json_path, ""
    os.makedirs(os.path.dirname(html_path), exist_ok=True)
    with open(html_path, "w", encoding="utf-8") as f:
        f.write(page)
    return json_path, html_path


def timeline_page(record: dict) -> str:
    """The failing schedule as a self-contained page: one lane per thread, one column per
    step, the conflicting accesses marked (graders/templates/timeline.html, Jinja2)."""
    import os

    import jinja2

    from graders import i18n

    events = record["events"]
    ids = sorted({e[1] for e in events})
    marked, diagnosis = conflict(events)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(
        os.path.join(os.path.dirname(__file__), "templates")), autoescape=True)
    i18n.install_jinja(env)  # its texts through _(), in the run's language
    return env.get_template("timeline.html").render(
        record=record, events=events, lanes=ids, marked=set(marked), diagnosis=diagnosis,
        names=thread_names(ids), lang=i18n.language.replace("_", "-"),
        found_by=strategy_words(record.get("found_by")))
