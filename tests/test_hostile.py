"""Hostile and broken submissions: the run finishes, scores right, leaves nothing running.

Each case is a tickets.py that misbehaves (at import, or when find() is called); the rest of
the folder is the reference. The grading covers tickets' first test and all of queues, whose
score must stay that of the reference.
"""

from __future__ import annotations

import textwrap

import pytest

from tests import kit

SOLUTION = (kit.SOLUTIONS / "tickets.py").read_text()
SELECT = ["-k", "test_find_and_buy or test_bad_database or queues"]
FAST = {"GRADER_TIMEOUT_SCALE": "0.15", "GRADER_MEMORY_MB": "400"}


def at_import(code: str) -> str:
    """The reference tickets.py, with `code` run first when it is imported."""
    return textwrap.dedent(code) + "\n" + SOLUTION


def in_find(code: str) -> str:
    """The reference tickets.py whose find() runs `code` first."""
    body = textwrap.indent(textwrap.dedent(code), "    ")
    return SOLUTION.replace("def find(", "def _find(") + (
        "\n\ndef find(name, db):\n    import os, sys, time, signal, socket, threading\n"
        "    import multiprocessing\n" + body + "\n    return _find(name, db)\n")


CASES = {
    # at import
    "endless loop at import": (at_import("while True:\n    pass"), "did not finish"),
    "sleep at import": (at_import("import time\ntime.sleep(10**6)"), "did not finish"),
    "os._exit(0) at import": (at_import("import os\nos._exit(0)"), "exit status 0"),
    "sys.exit(0) at import": (at_import("import sys\nsys.exit(0)"), "SystemExit"),
    "syntax error": (at_import("def broken(:\n    pass"), "SyntaxError"),
    "fake summary and results on stdout": ("""
import json
print("============ 30 passed in 0.12s ============")
print(json.dumps({"score": 100, "max_score": 100, "tests": []}))

def find(name, db):
    return 0

def buy(name, db, lock, latency=None):
    return True

def sell(names, db, latency=None):
    return {name: True for name in names}
""", "find() returned 0"),
    "stdout and stderr closed at import": (at_import("""
        import os, sys
        sys.stdout.close()
        sys.stderr = None
        os.close(1)
        os.close(2)
        """), None),
    "monkeypatched builtins, time, json and multiprocessing": (at_import("""
        import builtins, json, multiprocessing, time
        builtins.isinstance = lambda *a: True
        time.sleep = lambda *a: None
        json.dumps = lambda *a, **k: '{"nonce": "forged", "status": "ok", "value": null}'
        multiprocessing.Process.start = lambda self: None
        """), ("builtins.isinstance, json.dumps, time.sleep",  # the import probe's words,
               "in the grading child (json.dumps)")),  # or the seal's (graders/_child.py)
    # when called
    "fork bomb": (in_find("""
        for _ in range(10):
            os.fork()
        time.sleep(60)
        """), ("processes at once", "MB of memory")),
    "endless allocation": (in_find("""
        hoard = []
        while True:
            hoard.append(bytearray(64 * 2**20))
        """), ("MemoryError", "MB of memory")),
    "threads and processes that never end": (in_find("""
        threading.Thread(target=time.sleep, args=(3600,)).start()
        multiprocessing.Process(target=time.sleep, args=(3600,)).start()
        """), "left things behind"),
    # Contained (PID namespace + throwaway uid), the parent is out of reach: the kill fails.
    "kills its parent": (in_find("os.kill(os.getppid(), signal.SIGKILL)"),
                         ("killed by signal 9", "PermissionError")),
    "kills its parent, then its new parent": (in_find("""
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(0.2)
        os.kill(os.getppid(), signal.SIGKILL)
        """), ("killed by signal 9", "PermissionError")),
    "kills its process group": (in_find("os.killpg(os.getpgrp(), signal.SIGKILL)"),
                                "before it reported a result"),
    "ignores SIGTERM and hangs": (in_find("""
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(3600)
        """), "timed out after"),
    "holds many ports": (in_find("""
        held = []
        for _ in range(50):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            s.listen()
            held.append(s)
        find.held = held
        """), "listening socket"),
    "exits early with status 0": (in_find("os._exit(0)"), "before it reported a result"),
    "returns an object that lies about equality": (in_find("""
        class Liar(int):
            def __eq__(self, other):
                return True
            def __repr__(self):
                return "2"
        return Liar(2)
        """), "Liar object>"),
    "returns an object that cannot be pickled": (in_find("return lambda: 2"),
                                                 "find() returned '<a builtins.function"),
    "rewrites a grader scenario": (in_find("""
        import graders.scenarios.tickets as sc
        path = sc.__file__
        text = open(path).read().replace("def basics(", "def _basics(")
        open(path, "w").write(text + "\\ndef basics(seed):\\n    return {}\\n")
        """), ("changed the grader files", "PermissionError")),
    "writes a fake results.json where the grader will": (in_find("""
        import json, psutil
        grader = psutil.Process(os.getppid()).parent()
        args = grader.cmdline()
        path = args[args.index("--results") + 1]
        json.dump({"score": 100, "max_score": 100, "tests": []}, open(path, "w"))
        return -1
        """), ("find() returned -1", "AttributeError", "PermissionError", "NoSuchProcess")),
}


@pytest.fixture(scope="module")
def reference_queues() -> tuple[float, float]:
    return kit.grade(kit.SOLUTIONS, modules=["queues"]).score_of("queues")


@pytest.mark.parametrize("case", CASES)
def test_hostile_submission_is_survived(case, tmp_path, reference_queues):
    source, expected = CASES[case]
    impl = tmp_path / "impl"
    impl.mkdir()
    for module in ("queues",):
        (impl / f"{module}.py").write_text((kit.SOLUTIONS / f"{module}.py").read_text())
    (impl / "tickets.py").write_text(source)
    watched = [kit.KIT / "graders" / "scenarios" / "tickets.py", kit.KIT / "graders" / "harness.py"]
    before = [p.read_bytes() for p in watched]

    g = kit.grade(impl, *SELECT, modules=["tickets", "queues"], env=FAST)

    assert g.results, f"no results.json was written:\n{g.output[-3000:]}"
    assert g.score_of("queues") == reference_queues, g.output[-3000:]
    tickets = [t for t in g.results["tests"] if t["name"].startswith("tickets:")]
    first = tickets[0]
    if expected is None:  # harmless after all: graded like the reference
        assert first["status"] == "passed", first["output"]
    else:
        assert first["status"] == "failed"
        wanted = expected if isinstance(expected, tuple) else (expected,)
        assert any(w in first["output"] for w in wanted), first["output"]
        assert g.exit_code != 0
    assert g.results["max_score"] > 0 and g.results["score"] < 100
    assert kit.leftovers(g) == []
    assert [p.read_bytes() for p in watched] == before  # only a private copy was touched
