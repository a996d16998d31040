"""Loaded by every Python process that the graders start, directly or through student code.

The harness puts this folder on PYTHONPATH of the grading child, so processes that
multiprocessing spawns (spawn, forkserver) run it too. It only acts when GRADER_STACKS
is set: each process then dumps the stacks of all its threads to its own file on
SIGUSR1, which is how a timeout shows where every process was stuck; and when
GRADER_PERTURB is set, student code in spawned processes is perturbed like in the child.
"""

import os

if os.environ.get("GRADER_STACKS"):
    try:
        from graders import _child

        _child.install_stack_dumps()
        if os.environ.get("GRADER_PERTURB"):
            impl, seed = os.environ["GRADER_PERTURB"].rsplit(os.pathsep, 1)
            _child.install_perturbation(impl, int(seed))
    except Exception:  # never let the harness break a student's process start
        pass
