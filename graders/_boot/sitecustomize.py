"""Loaded by every Python process that the graders start, directly or through student code.

The harness copies this file, with a `site.txt` beside it, into a read-only folder of its own
for each grading child and puts that folder first on the child's PYTHONPATH, so processes that
multiprocessing spawns (spawn, forkserver) load it too, and forked ones inherit what it set up.
Nothing is in the environment: `site.txt` says where each process dumps the stacks of all its
threads on SIGUSR1 (<folder>/<pid>.txt: how a timeout shows where every process was stuck),
and whether student code is perturbed (graders/_perturb.py; the grading child itself installs
that from its request). Kept small: every spawned process pays for its imports (no json:
site.txt is the stacks folder, then the implementation folder and the seed when perturbed,
then the gate's folder, size, stall and limit when the test asked for one (graders/_perturb.py),
separated by NUL characters, which no path holds).
"""

import os

_stack_file = None
_config: dict = {}


def install_stack_dumps() -> None:
    """On SIGUSR1, write every thread's stack to <stacks>/<pid>.txt."""
    global _stack_file
    import faulthandler

    try:
        from _signal import SIGUSR1  # what `signal` re-exports, without its enum classes
    except ImportError:  # pragma: no cover - not CPython
        from signal import SIGUSR1

    _stack_file = open(os.path.join(_config["stacks"], f"{os.getpid()}.txt"), "w")
    faulthandler.register(SIGUSR1, file=_stack_file, all_threads=True)


def _load() -> dict:
    try:
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "site.txt"),
                  "rb") as f:
            fields = [os.fsdecode(field) for field in f.read().split(b"\0")]
    except OSError:
        return {}
    config: dict = {"stacks": fields[0], "perturb": None, "gate": None}
    if len(fields) >= 3:
        config["perturb"] = [fields[1], fields[2]]
    if len(fields) == 7:
        config["gate"] = fields[3:7]
    return config


_config = _load()
if _config.get("stacks") and hasattr(os, "register_at_fork"):
    try:
        install_stack_dumps()
        os.register_at_fork(after_in_child=install_stack_dumps)
        perturb = _config.get("perturb")
        if perturb:
            from graders._perturb import in_grading_child, install_perturbation

            if not in_grading_child():
                install_perturbation(perturb[0], int(perturb[1]), gate=_config.get("gate"))
    except Exception:  # never let the harness break a student's process start
        pass
