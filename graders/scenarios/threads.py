"""Scenarios for threads.py: two ways to start a thread, and daemon threads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time

from graders.scenarios.common import Stillness, is_a

WAIT = 5.0  # how long a blocked target waits for the scenario to release it
LINGER = 0.2  # how long finish_late() works on after the main thread, unless seen waited for

# ------------------------------------------------------------------ targets handed to threads

_calls: list[dict] = []  # what each target saw: its arguments and the thread that ran it
_release = threading.Event()


_starting: dict = {}  # while a start_*() call runs: "caller", the native id of its thread

STILL = 0.3  # a caller asleep this long, untimed and unwoken, waits for its target to end


def hold(*args) -> None:
    """A target that records who ran it with which arguments, then waits to be released; or
    until the start_*() call that started it is seen waiting for it, untimed, for STILL s
    (a start_thread() that joins its thread: that call returns then, not after WAIT s)."""
    me = threading.current_thread()
    _calls.append({"args": list(args), "ident": me.ident, "daemon": me.daemon})
    caller = _starting.get("caller")
    still = (Stillness(STILL, only={os.getpid()}, threads={caller}, alone=True)
             if caller is not None else None)
    deadline = time.monotonic() + WAIT
    while not _release.wait(0.01) and time.monotonic() < deadline:
        if still is not None and _starting.get("caller") == caller and still.reached():
            return


def _start(start, *args):
    """start(hold, *args), the thread that calls it noted for hold()."""
    _starting["caller"] = threading.get_native_id()
    try:
        return start(hold, *args)
    finally:
        _starting.pop("caller", None)


def _wait_calls(n: int, thread=None) -> bool:
    """Whether the n-th call of a target came, within WAIT s; within 0.3 s when `thread`, the
    one a start_*() call returned, was never started (no call comes from it then)."""
    unstarted = thread is not None and not (is_a(thread, threading.Thread)
                                            and thread.ident is not None)
    deadline = time.monotonic() + (0.3 if unstarted else WAIT)
    while len(_calls) < n and time.monotonic() < deadline:
        time.sleep(0.001)
    return len(_calls) >= n


def _thread_info(t) -> dict:
    """What a returned thread looks like while its target is blocked."""
    info = {"type": type(t).__name__, "is_thread": is_a(t, threading.Thread)}
    if info["is_thread"]:
        info.update(started=t.ident is not None, alive=t.is_alive(), daemon=bool(t.daemon),
                    ident=t.ident)
    return info


def _finish(threads) -> list[str]:
    """Release the blocked targets; name the threads that do not end."""
    _release.set()
    stuck = []
    for t in threads:
        if is_a(t, threading.Thread) and t.ident is not None:
            t.join(WAIT)
            if t.is_alive():
                stuck.append(t.name)
    return stuck


def starters() -> dict:
    """start_thread from the main thread and from a daemon thread, and start_daemon."""
    import threads

    _calls.clear()
    _release.clear()
    out: dict = {}
    returned = []

    t = _start(threads.start_thread, "a", 1)
    returned.append(t)
    got = _wait_calls(1, t)
    out["main"] = {**_thread_info(t), "ran": got, "call": _calls[0] if got else None}

    box: dict = {}

    def from_daemon():
        box["t"] = _start(threads.start_thread, "b", 2)

    d = threading.Thread(target=from_daemon, daemon=True)
    d.start()
    d.join(WAIT)
    if "t" in box:
        returned.append(box["t"])
        got = _wait_calls(2, box["t"])
        out["from_daemon"] = {**_thread_info(box["t"]), "ran": got,
                              "call": _calls[1] if got else None}
    else:
        out["from_daemon"] = None

    n = len(_calls)
    s = _start(threads.start_daemon, "c", 3)
    returned.append(s)
    got = _wait_calls(n + 1, s)
    out["daemon"] = {**_thread_info(s), "ran": got, "call": _calls[n] if got else None}

    out["stuck"] = _finish(returned)
    return out


# ---------------------------------------------------------------------------------- Worker

RESULT = {"answer": 42, "items": [1, 2, 3]}


def job_ok() -> dict:
    me = threading.current_thread()
    _calls.append({"ident": me.ident})
    return RESULT


class JobFailed(Exception):
    """The exception the grader's failing job raises."""


def job_fails() -> None:
    me = threading.current_thread()
    _calls.append({"ident": me.ident})
    raise JobFailed("raised on purpose by the grader's job")


def _worker_case(threads, name: str, job) -> dict:
    n = len(_calls)
    w = threads.Worker(name, job)
    out = {"is_thread": is_a(w, threading.Thread), "type": type(w).__name__}
    if not out["is_thread"]:
        return out
    out["overrides_run"] = getattr(type(w), "run", None) is not threading.Thread.run
    out["name_before"] = repr(w.name)
    out["started_early"] = w.ident is not None or len(_calls) > n
    w.start()
    w.join(WAIT)
    out["finished"] = not w.is_alive()
    out["name_after"] = repr(w.name)
    mine = _calls[n:]
    out["calls"] = len(mine)
    out["in_worker"] = bool(mine) and all(c["ident"] == w.ident for c in mine)
    result, error = getattr(w, "result", "<missing>"), getattr(w, "error", "<missing>")
    out["result"] = "<missing>" if result == "<missing>" else repr(result)
    out["result_is"] = result is RESULT
    out["error"] = "<missing>" if isinstance(error, str) and error == "<missing>" \
        else repr(error)
    out["error_ok"] = isinstance(error, JobFailed)
    return out


def worker() -> dict:
    """Worker with a job that returns, and one that raises."""
    import threads

    _calls.clear()
    return {
        "ok": _worker_case(threads, "worker-ok", job_ok),
        "fails": _worker_case(threads, "worker-fails", job_fails),
    }


# ------------------------------------------------------- a process with a daemon thread in it


def spin(folder: str) -> None:
    """A daemon's target: note that it runs, then loop forever; once the interpreter's
    shutdown is seen waiting for it (a thread that is no daemon), note that too ("keeps"):
    the process will not end, and the scenario need not wait WAIT s to know."""
    open(os.path.join(folder, "spinning"), "w").close()
    main, noted = threading.main_thread(), False
    while True:
        time.sleep(0.01)
        if not noted and not main.is_alive() and _waited_for(main):
            open(os.path.join(folder, "keeps"), "w").close()
            noted = True


def _waited_for(main: threading.Thread) -> bool:
    """Whether the interpreter's shutdown, in the main thread, is waiting for this thread to
    end (CPython 3.10 to 3.12: threading._shutdown() blocked on this thread's tstate lock):
    then the process will wait for it, however long it takes. False when it cannot tell."""
    me = getattr(threading.current_thread(), "_tstate_lock", None)
    frame = sys._current_frames().get(main.ident)
    while me is not None and frame is not None:
        if frame.f_code.co_name == "_shutdown" and frame.f_code.co_filename == threading.__file__:
            return frame.f_locals.get("lock") is me
        frame = frame.f_back
    return False


def _joins_me(main) -> bool:
    """Whether the main thread is in join() on this thread (a start_thread() that joins the
    thread it starts): it will not finish before this one, so waiting for that is pointless."""
    me = threading.current_thread()
    frame = sys._current_frames().get(main.ident)
    while frame is not None:
        code = frame.f_code
        if (code.co_filename == threading.__file__ and code.co_name == "join"
                and frame.f_locals.get("self") is me):
            return True
        frame = frame.f_back
    return False


def finish_late(folder: str) -> None:
    """A worker's target: wait until the main thread has finished, then write "done".

    Only a non-daemon thread gets that far: a process does not wait for a daemon thread.
    Once the main thread is seen waiting for this one (at its shutdown), that is settled
    at once; otherwise (or on a Python where it cannot be seen) the worker lingers 0.2 s,
    by which time a process that did not wait for it is gone."""
    main = threading.main_thread()
    deadline = time.monotonic() + WAIT
    while main.is_alive() and time.monotonic() < deadline and not _joins_me(main):
        time.sleep(0.005)
    ended = not main.is_alive()
    deadline = time.monotonic() + LINGER
    while time.monotonic() < deadline and not (ended and _waited_for(main)):
        time.sleep(0.005)
    with open(os.path.join(folder, "done"), "w") as f:
        f.write("after main" if ended else "main still running")


def main_thread(folder: str) -> None:
    """The main thread of a small program: a forever-looping daemon thread and a worker."""
    import threads

    seen: dict = {}
    try:
        threads.start_daemon(spin, folder)
        threads.start_thread(finish_late, folder)
    except BaseException as e:  # noqa: BLE001 - reported to the student
        seen["error"] = f"{type(e).__name__}: {e}"
    with open(os.path.join(folder, "main.json"), "w") as f:
        json.dump(seen, f)


SCRIPT = (
    "import sys\n"
    "from graders.scenarios.threads import main_thread\n"
    "main_thread(sys.argv[1])\n"
)


def process_exit() -> dict:
    """Run a program whose main thread starts a daemon thread and a worker, then ends."""
    import graders

    folder = os.path.abspath(tempfile.mkdtemp(dir="."))
    impl = os.path.abspath(sys.path[0])
    kit = os.path.dirname(os.path.dirname(os.path.abspath(graders.__file__)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_PERTURB")}
    env["PYTHONPATH"] = os.pathsep.join([impl, kit])
    err_path = os.path.join(folder, "stderr")
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-c", SCRIPT, folder],
                                stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=env)
    seen_path = os.path.join(folder, "main.json")
    deadline = time.monotonic() + 15.0  # to start Python and run the main thread
    while proc.poll() is None and not os.path.exists(seen_path) \
            and time.monotonic() < deadline:
        time.sleep(0.005)
    # Once the main thread is done, the process must end soon: within WAIT s, or until the
    # start_daemon() thread has seen the shutdown wait for it ("keeps").
    started = time.monotonic()
    while proc.poll() is None and time.monotonic() - started < WAIT \
            and not os.path.exists(os.path.join(folder, "keeps")):
        time.sleep(0.005)
    out = {"ended": proc.poll() is not None, "status": proc.poll(),
           "kept": os.path.exists(os.path.join(folder, "keeps"))}
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    try:
        out["main"] = json.load(open(seen_path))
    except (OSError, ValueError):
        out["main"] = None
    done = os.path.join(folder, "done")
    out["done"] = open(done).read() if os.path.exists(done) else None
    out["spinning"] = os.path.exists(os.path.join(folder, "spinning"))
    out["stderr"] = open(err_path, errors="replace").read()[-2000:]
    return out
