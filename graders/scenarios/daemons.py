"""Scenarios for daemons.py: a guardian (daemon) process ends with the main process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time

from graders.scenarios.common import Stillness, is_a

SLEEP = 60.0  # the guardian's target sleeps this long: only a daemon ends before that
MAIN_EXIT = 5.0  # seconds the main process gets to end after its last statement
BRIEF_EXIT = 1.0  # ... when start_guardian() gave no started daemon process (already wrong)
GONE = 3.0  # seconds the guardian gets to disappear once the main process has ended
STILL = 0.5  # a main that sleeps, untimed and unwoken, this long after its end waits for ever


def guard(folder: str, seconds: float) -> None:
    """The guardian's target: note "<pid> <args>" (atomically), then sleep."""
    tmp = os.path.join(folder, f"guardian-{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        f.write(f"{os.getpid()} {seconds!r}")
    os.replace(tmp, os.path.join(folder, "guardian"))
    time.sleep(seconds)


def _read_guardian(folder: str, seconds: float, process=None) -> str | None:
    """The guardian's note, waited for up to `seconds` s, or less once `process` (the one
    start_guardian returned) has ended: a dead process writes no note (a target that raised
    at once, called with the wrong arguments, ended the wait after 5 s before)."""
    deadline = time.monotonic() + seconds
    path = os.path.join(folder, "guardian")
    while time.monotonic() < deadline:
        if os.path.exists(path):
            return open(path).read()
        if process is not None and not process.is_alive():
            return open(path).read() if os.path.exists(path) else ""  # "": it ended
        time.sleep(0.005)
    return None


def main_process(folder: str) -> None:
    """The main process of a small program (run in a subprocess): start a guardian, note what
    start_guardian returned, wait until the guardian runs, then end (return)."""
    import multiprocessing.process

    seen: dict = {"returned": False}
    try:
        import daemons

        box: dict = {}

        def call():
            try:
                box["p"] = daemons.start_guardian(guard, folder, SLEEP)
            except BaseException as e:  # noqa: BLE001 - reported to the student
                box["error"] = f"{type(e).__name__}: {e}"

        caller = threading.Thread(target=call, daemon=True)
        caller.start()
        caller.join(5.0)
        if caller.is_alive():
            seen["hung"] = True
        elif "error" in box:
            seen["error"] = box["error"]
        else:
            p = box["p"]
            seen.update(returned=True, type=type(p).__name__,
                        is_process=is_a(p, multiprocessing.process.BaseProcess))
            if seen["is_process"]:
                seen.update(pid=p.pid, alive=p.is_alive(), daemon=bool(p.daemon))
        # A process that was never started (or died) writes no note: no need to wait long.
        seen["guardian"] = _read_guardian(folder, 5.0 if seen.get("alive") else 0.3,
                                          box.get("p") if seen.get("is_process") else None)
        if seen["guardian"] == "":
            seen["exitcode"] = box["p"].exitcode
    finally:
        tmp = os.path.join(folder, "main.tmp")
        with open(tmp, "w") as f:
            json.dump(seen, f)
        os.replace(tmp, os.path.join(folder, "main.json"))


SCRIPT = (
    "import sys, multiprocessing\n"
    "multiprocessing.set_start_method(sys.argv[1], force=True)\n"
    "from graders.scenarios.daemons import main_process\n"
    "main_process(sys.argv[2])\n"
)


def _load(path: str) -> dict | None:
    """What the main process noted (main.json), or None when it wrote nothing readable."""
    try:
        return json.load(open(path))
    except (OSError, ValueError):
        return None


def _pid_gone(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _guardian_note(seen: dict | None) -> tuple[int | None, list[str]]:
    """The guardian's pid and arguments from its note ("<pid> <args>"), as the main saw it."""
    parts = ((seen or {}).get("guardian") or "").split()
    return (int(parts[0]) if parts and parts[0].isdigit() else None), parts[1:]


def _awake(pid: int | None) -> bool:
    """Linux: the process runs, waits for a core, or is in the kernel (dying included)."""
    if pid is None:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state in (b"R", b"D", b"X")


def guardian(start_method: str) -> dict:
    """A program whose main starts a guardian and ends: what it saw, and whether the guardian
    ended with it."""
    import graders
    from graders.scenarios.common import kill_children

    folder = os.path.abspath(tempfile.mkdtemp(dir="."))
    impl = os.path.abspath(sys.path[0])
    kit = os.path.dirname(os.path.dirname(os.path.abspath(graders.__file__)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_PERTURB")}
    env["PYTHONPATH"] = os.pathsep.join([impl, kit])
    out_path, err_path = os.path.join(folder, "stdout"), os.path.join(folder, "stderr")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        main = subprocess.Popen([sys.executable, "-c", SCRIPT, start_method, folder],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
    result: dict = {"main_ended": False, "guardian_gone": None}
    seen_path = os.path.join(folder, "main.json")
    deadline = time.monotonic() + 15.0  # for the main's own work: start_guardian, guardian
    while main.poll() is None and not os.path.exists(seen_path) and time.monotonic() < deadline:
        time.sleep(0.005)
    seen = _load(seen_path)
    # Not a started daemon process (or start_guardian failed): a correct guardian always is
    # one, and such a main may well wait for it at exit. Then do not wait long.
    result["main_wait"] = MAIN_EXIT if seen and seen.get("daemon") else BRIEF_EXIT
    if seen is not None:  # its last statement is done: now it must end
        # ... within main_wait s; a main whose every thread waits, without a timeout, and
        # has not woken for STILL s waits for what never comes by itself (the join of a
        # guardian that ignores SIGTERM): not ended, known before main_wait runs out.
        # (A guardian that is dying, runnable or exiting, counts as awake: its end wakes the
        # main's join, however loaded the machine.)
        guardian = _guardian_note(seen)[0]
        still, started = Stillness(STILL, only={main.pid}), time.monotonic()
        deadline = started + result["main_wait"]
        while main.poll() is None and time.monotonic() < deadline:
            if _awake(guardian):
                still = Stillness(STILL, only={main.pid})
            elif still.reached():  # what the feedback says it waited
                result["main_wait"] = round(time.monotonic() - started, 1)
                break
            time.sleep(0.005)
    result["main_ended"] = main.poll() is not None
    result["main_status"] = main.poll()
    result["seen"] = seen if seen is not None else _load(seen_path)
    gpid, result["guardian_args"] = _guardian_note(result["seen"])
    result["guardian_pid"] = gpid
    if result["main_ended"] and gpid:
        deadline = time.monotonic() + GONE
        while not _pid_gone(gpid) and time.monotonic() < deadline:
            time.sleep(0.005)
        result["guardian_gone"] = _pid_gone(gpid)
    if main.poll() is None:
        main.kill()
    main.wait()
    kill_children()
    result["stderr"] = open(err_path, errors="replace").read()[-2000:]
    return result
