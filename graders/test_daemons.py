"""Grader for daemons.py: a guardian (daemon) process ends with its main process (section 2)."""

import pytest

from graders.harness import fail
from graders.scenarios import daemons as sc

_runs: dict = {}  # (implementation, start method) -> what the scenario saw; both tests use it


def _guardian(student, start_method) -> dict:
    key = (str(student.impl), start_method)
    if key not in _runs:
        _runs[key] = student.run(sc.guardian, start_method, start_method=start_method,
                                 timeout=40, what="start_guardian()")
    return _runs[key]


def _stderr(r) -> str:
    text = r["stderr"].strip()
    return f"\n\nthe program's stderr:\n{text}" if text else ""


@pytest.mark.points(2)
def test_start_guardian(student, start_method):
    """start_guardian returns a started daemon Process running target(*args)"""
    r = _guardian(student, start_method)
    seen = r["seen"]
    if seen is None:
        fail(f"a program whose main process calls start_guardian() crashed before it "
             f"returned (exit status {r['main_status']})." + _stderr(r))
    if seen.get("hung"):
        fail("start_guardian() did not return within 5 s: start the process and return it "
             "at once, without joining it (a guardian runs as long as the main process).")
    if "error" in seen:
        hint = ""
        if "already started" in seen["error"] or "daemon" in seen["error"]:
            hint = (" The daemon flag can only be set before start(): pass daemon=True to "
                    "Process(...) or set p.daemon = True before p.start().")
        fail(f"start_guardian() raised {seen['error']}.{hint}")
    if not seen["is_process"]:
        fail(f"start_guardian() returned a {seen['type']}; expected the started "
             f"multiprocessing.Process that runs target(*args).")
    if seen["pid"] is None or not seen["alive"]:
        fail("start_guardian() returned a process that was not running (pid "
             f"{seen['pid']}, is_alive() {seen['alive']}) while its target still had "
             f"{sc.SLEEP:g} s to sleep: call start() before returning it.")
    if not seen["daemon"]:
        fail("start_guardian() returned a process whose daemon flag is False: a guardian is "
             "a daemon process. Set daemon=True before start() (Process(..., daemon=True)).")
    if r["guardian_pid"] is None:
        fail("the guardian's target never ran within 5 s of start_guardian(target, *args): "
             "the process must call target(*args)." + _stderr(r))
    if r["guardian_pid"] != seen["pid"]:
        fail(f"target(*args) ran in process {r['guardian_pid']}, not in the returned process "
             f"{seen['pid']}: return the process you started.")
    if r["guardian_args"] != [repr(sc.SLEEP)]:
        fail(f"the target was called with the wrong arguments ({r['guardian_args']}): call "
             f"target(*args) with the arguments given to start_guardian.")


@pytest.mark.points(2)
def test_guardian_ends_with_main(student, start_method):
    """when the main process ends, the guardian ends with it"""
    r = _guardian(student, start_method)
    seen = r["seen"] or {}
    if not seen.get("is_process") or r["guardian_pid"] is None \
            or r["guardian_pid"] != seen.get("pid"):
        fail("no guardian process was running target(*args) to check (see the test above: "
             "start_guardian() must return the started daemon process that runs it).")
    if not r["main_ended"]:
        fail(f"the main process did not end within {r['main_wait']:g} s after its last "
             f"statement: it was waiting for the guardian, which sleeps {sc.SLEEP:g} s. "
             f"multiprocessing joins non-daemon processes at exit; a guardian must be a "
             f"daemon (daemon=True before start()).")
    if not r["guardian_gone"]:
        fail(f"the guardian (pid {r['guardian_pid']}) was still running {sc.GONE:g} s after "
             f"the main process ended: it must end with the main process (a daemon "
             f"multiprocessing.Process, set daemon=True before start()).")
    if r["main_status"] != 0:
        fail(f"the main process ended with exit status {r['main_status']}, expected 0."
             + _stderr(r))
