"""Grader for threads.py: two ways to start a thread, and daemon threads (sections 8 and 9)."""

import pytest

from graders.harness import fail
from graders.scenarios import threads as sc

_runs: dict = {}  # implementation -> what the starters scenario saw; two tests use it


def _starters(student) -> dict:
    key = str(student.impl)
    if key not in _runs:
        _runs[key] = student.run(sc.starters, what="start_thread()/start_daemon()")
    return _runs[key]


def _check_started(info, call: str, args: list) -> None:
    """The thread `call` returned is a started Thread that runs target(*args)."""
    if not info["is_thread"]:
        fail(f"{call} returned a {info['type']}; expected the threading.Thread it started.")
    if not info["ran"]:
        fail(f"the target given to {call} never ran within {sc.WAIT:g} s: create a "
             f"threading.Thread(target=target, args=args), start() it and return it.")
    if not info["started"] or not info["alive"]:
        fail(f"{call} returned a thread that was not running while its target was still "
             f"busy (started: {info['started']}, is_alive(): {info['alive']}): start() the "
             f"thread and return it at once, without joining it.")
    if info["call"]["ident"] != info["ident"]:
        fail(f"the target given to {call} ran in another thread than the one returned: "
             f"return the thread you started.")
    if info["call"]["args"] != args:
        fail(f"{call} called the target with {info['call']['args']}; expected target(*args) "
             f"with args {args}.")


def test_start_thread(student):
    """start_thread returns a started, non-daemon Thread running target(*args)"""
    r = _starters(student)
    _check_started(r["main"], "start_thread(target, 'a', 1)", ["a", 1])
    if r["main"]["daemon"]:
        fail("start_thread() called from the main thread returned a daemon thread: way one "
             "starts an ordinary (non-daemon) thread, daemon=False.")
    d = r["from_daemon"]
    if d is None:
        fail(f"start_thread() called from a daemon thread did not return within {sc.WAIT:g} "
             f"s.")
    _check_started(d, "start_thread(target, 'b', 2) (called from a daemon thread)", ["b", 2])
    if d["daemon"]:
        fail("start_thread() called from a daemon thread returned a daemon thread: a new "
             "thread inherits its creator's daemon flag unless you say otherwise. Pass "
             "daemon=False to threading.Thread(...).")
    if r["stuck"]:
        fail(f"thread(s) {r['stuck']} did not end within {sc.WAIT:g} s after their target "
             f"returned.")


def test_start_daemon(student):
    """start_daemon returns a started daemon Thread running target(*args)"""
    r = _starters(student)
    _check_started(r["daemon"], "start_daemon(target, 'c', 3)", ["c", 3])
    if not r["daemon"]["daemon"]:
        fail("start_daemon() returned a thread whose daemon flag is False: pass daemon=True "
             "to threading.Thread(...) (or set it before start()).")


@pytest.mark.points(2)
def test_worker(student):
    """Worker overrides run, keeps its name, sets result or error after join()"""
    r = student.run(sc.worker, what="Worker")
    for case, job in (("ok", "a job that returns a value"), ("fails", "a job that raises")):
        w = r[case]
        name = f"grader-worker-{case}"
        if not w["is_thread"]:
            fail(f"Worker(name, job) made a {w['type']}; expected a threading.Thread "
                 f"subclass (class Worker(threading.Thread)).")
        if not w["overrides_run"]:
            fail("Worker does not override run(): way two subclasses Thread and puts the "
                 "thread's work in its own run() method (calling job() there), instead of "
                 "passing target= to Thread.__init__.")
        if w["name_before"] != repr(name) or w["name_after"] != repr(name):
            fail(f"Worker({name!r}, job).name is {w['name_before']} (after join: "
                 f"{w['name_after']}); expected {name!r}: pass name to Thread.__init__ "
                 f"(super().__init__(name=name)) or set self.name after it.")
        if w["started_early"]:
            fail("Worker(name, job) started working before start() was called: __init__ only "
                 "stores the job; run() calls it, in the new thread.")
        if not w["finished"]:
            fail(f"a Worker with {job} was still running {sc.WAIT:g} s after start().")
        if w["calls"] != 1 or not w["in_worker"]:
            fail(f"a Worker with {job} called job() {w['calls']} time(s)"
                 f"{'' if w['in_worker'] else ', not in the worker thread'}: run() must "
                 f"call it exactly once, in the worker thread.")
    ok, bad = r["ok"], r["fails"]
    if not ok["result_is"]:
        fail(f"a Worker whose job returned {sc.RESULT!r} has result {ok['result']} after "
             f"join(); expected that return value: run() stores self.result = self.job().")
    if ok["error"] != "None":
        fail(f"a Worker whose job returned has error {ok['error']}; expected None.")
    if not bad["error_ok"]:
        fail(f"a Worker whose job raised JobFailed has error {bad['error']} after join(); "
             f"expected that exception: catch it in run() and keep it in self.error (a "
             f"thread has no caller to raise it to).")
    if bad["result"] != "None":
        fail(f"a Worker whose job raised has result {bad['result']}; expected None.")


@pytest.mark.points(2)
def test_daemon_does_not_keep_process_alive(student):
    """a process ends after its non-daemon threads, not waiting for a daemon thread"""
    r = student.run(sc.process_exit, timeout=30, what="start_daemon()/start_thread()")
    err = r["stderr"].strip()
    output = f"\n\nthe program's output:\n{err}" if err else ""
    if r["main"] is None:
        fail(f"a program whose main thread calls start_daemon() and start_thread() crashed "
             f"(exit status {r['status']})." + output)
    if "error" in r["main"]:
        fail(f"in a program's main thread, start_daemon() or start_thread() raised "
             f"{r['main']['error']}." + output)
    if not r["ended"]:
        fail(f"a program whose main thread had finished was still running {sc.WAIT:g} s "
             f"later: its thread from start_daemon(), which loops forever, kept it alive. A "
             f"daemon thread (daemon=True) never keeps the process alive." + output)
    if not r["spinning"]:
        fail("the target given to start_daemon() never ran in the program." + output)
    if r["done"] is None:
        fail("the program ended without waiting for its thread from start_thread(), which "
             "was still working after the main thread finished: that thread must not be a "
             "daemon (daemon=False), so the process waits for it." + output)
    if r["status"] != 0:
        fail(f"the program ended with exit status {r['status']}; expected 0." + output)
