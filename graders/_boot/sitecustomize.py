"""Loaded by every Python process that the graders start, directly or through student code.

The harness puts this folder on PYTHONPATH of the grading child, so processes that
multiprocessing spawns (spawn, forkserver) load it too, and forked ones inherit what it set
up. It only acts when GRADER_STACKS is set: each process then dumps the stacks of all its
threads to $GRADER_STACKS/<pid>.txt on SIGUSR1, which is how a timeout shows where every
process was stuck; with GRADER_PERTURB set, student code is perturbed (graders/_perturb.py).
Kept small: every spawned process pays for its imports.
"""

import os

_stack_file = None


def install_stack_dumps() -> None:
    """On SIGUSR1, write every thread's stack to $GRADER_STACKS/<pid>.txt."""
    global _stack_file
    import faulthandler
    import signal

    _stack_file = open(os.path.join(os.environ["GRADER_STACKS"], f"{os.getpid()}.txt"), "w")
    faulthandler.register(signal.SIGUSR1, file=_stack_file, all_threads=True)


if os.environ.get("GRADER_STACKS") and hasattr(os, "register_at_fork"):
    try:
        install_stack_dumps()
        os.register_at_fork(after_in_child=install_stack_dumps)
        if os.environ.get("GRADER_PERTURB"):
            from graders._perturb import install_perturbation

            impl, seed = os.environ["GRADER_PERTURB"].rsplit(os.pathsep, 1)
            install_perturbation(impl, int(seed))
    except Exception:  # never let the harness break a student's process start
        pass
