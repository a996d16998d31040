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
