"""Schedule perturbation: pause student code between bytecodes to expose hidden races.

On CPython with the GIL a thread is only switched at calls and backward jumps, so a
read-modify-write like `total += 1` is never interrupted and an unlocked counter looks right.
Pausing the student's own frames at random bytecodes lets the other threads run right there,
as they would on a free-threaded build or a loaded machine; correct locked code is unaffected.
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time

GATE_STALL = 0.5  # s: a gate opens when no new process came for this long (fewer started)
GATE_LIMIT = 3.0  # s: and at the latest this long after the first came
# (the harness scales both by GRADER_TIMEOUT_SCALE and passes them with the gate)


def _wait_at_gate(folder: str, n: int, stall: float = GATE_STALL,
                  limit: float = GATE_LIMIT) -> None:
    """Note this process at the gate (a file gate-<pid> in `folder`), then wait until `n`
    processes are there (or none came for `stall` s, or `limit` s have gone), so that they
    all begin their student code together."""
    try:
        open(os.path.join(folder, f"gate-{os.getpid()}"), "w").close()
    except OSError:
        return
    started = last = time.monotonic()
    seen = 0
    while True:
        try:
            here = sum(name.startswith("gate-") for name in os.listdir(folder))
        except OSError:
            return
        now = time.monotonic()
        if here > seen:
            seen, last = here, now
        if here >= n or now - last > stall or now - started > limit:
            return
        time.sleep(0.001)


def in_grading_child() -> bool:
    """Whether this process is the grading child (graders/_child.py), which installs the
    perturbation itself from its request, and is never held at the gate it opened."""
    return "graders._child" in " ".join(getattr(sys, "orig_argv", sys.argv))


def install_perturbation(impl: str, seed: int, rate: float = 0.2, pause: float = 0.0002,
                         gate: list | None = None) -> None:
    """Pause student code between bytecodes, at random, to expose races the GIL hides.

    A tracer on every thread (and, through sitecustomize and fork, every process) slows only
    frames whose code lives in the implementation folder: at each bytecode, with probability
    `rate`, it sleeps `pause` s, which lets another thread run right there. The decisions come
    from a per-thread random stream seeded by `seed`, the process id order aside.

    With `gate` ([folder, n, stall, limit]), every process but the grading child waits at its
    first student frame until n processes have come (or none came for `stall` s): processes
    that student code starts one after another (a spawned one needs ~50 ms to start its
    interpreter) then run their student code at the same time, so a race between them shows
    on every run, not only when their starts happen to overlap their work.
    """
    prefix = os.path.abspath(impl) + os.sep
    local = threading.local()
    counter = iter(range(1, 1 << 30))
    installer = os.getpid()  # a forked child inherits this tracer and is not its installer
    in_worker = in_grading_child()
    waiting = [gate]  # the gate still to pass in this process (a forked child's copy too)

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
            if waiting[0] and (os.getpid() != installer or not in_worker):
                folder, n, stall, limit = waiting[0]
                waiting[0] = None
                _wait_at_gate(folder, int(n), float(stall), float(limit))
            frame.f_trace = opcode  # 3.13 honours f_trace_opcodes only with a local tracer
            frame.f_trace_opcodes = True
            return opcode
        return None

    # 3.12 turns opcode events on only if some frame asked for them before settrace()
    # (CPython issues 103615 and 114480): without this, the main thread is never paused.
    sys._getframe().f_trace_opcodes = True
    threading.settrace(call)
    sys.settrace(call)
    from graders import _guard

    _guard.arm()  # student code cannot switch the pauses off with sys.settrace()
