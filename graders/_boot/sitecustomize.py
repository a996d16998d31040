"""Loaded by every Python process that the graders start, directly or through student code.

The harness copies this file, with a `site.json` beside it, into a read-only folder of its own
for each grading child and puts that folder first on the child's PYTHONPATH, so processes that
multiprocessing spawns (spawn, forkserver) load it too, and forked ones inherit what it set up.
Nothing is in the environment: `site.json` says where each process dumps the stacks of all its
threads on SIGUSR1 (<folder>/<pid>.txt: how a timeout shows where every process was stuck),
and whether student code is perturbed (graders/_perturb.py; the grading child itself installs
that from its request). Kept small: every spawned process pays for its imports.
"""

import os
import sys

_stack_file = None
_config: dict = {}


def install_stack_dumps() -> None:
    """On SIGUSR1, write every thread's stack to <stacks>/<pid>.txt."""
    global _stack_file
    import faulthandler
    import signal

    _stack_file = open(os.path.join(_config["stacks"], f"{os.getpid()}.txt"), "w")
    faulthandler.register(signal.SIGUSR1, file=_stack_file, all_threads=True)


def _load() -> dict:
    import json

    try:
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "site.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


_config = _load()
if _config.get("stacks") and hasattr(os, "register_at_fork"):
    try:
        install_stack_dumps()
        os.register_at_fork(after_in_child=install_stack_dumps)
        perturb = _config.get("perturb")
        if perturb and "graders._child" not in " ".join(getattr(sys, "orig_argv", sys.argv)):
            from graders._perturb import install_perturbation

            install_perturbation(perturb[0], int(perturb[1]))
    except Exception:  # never let the harness break a student's process start
        pass
