"""The harness: missing and broken modules, hangs, reports, --impl forms and seeds."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from tests import kit

FAST = {"GRADER_TIMEOUT_SCALE": "0.25"}  # shorter time limits for these deliberate hangs


def folder_with(tmp_path: Path, **modules: str) -> Path:
    """An implementation folder holding the given module sources."""
    impl = tmp_path / "impl"
    impl.mkdir(exist_ok=True)
    for name, source in modules.items():
        (impl / f"{name}.py").write_text(source)
    return impl


def solution(name: str) -> str:
    return (kit.SOLUTIONS / f"{name}.py").read_text()


def test_a_missing_module_scores_zero_and_the_rest_is_graded(tmp_path):
    impl = folder_with(tmp_path, queues=solution("queues"))
    g = kit.grade(impl, modules=["tickets", "queues"])
    assert g.exit_code != 0
    assert g.score_of("queues")[0] == g.score_of("queues")[1] > 0
    assert g.score_of("tickets")[0] == 0
    tickets = [t for t in g.results["tests"] if t["name"].startswith("tickets:")]
    assert tickets and all("tickets.py is missing" in t["output"] for t in tickets)


def test_a_syntax_error_is_reported_with_its_line(tmp_path):
    impl = folder_with(tmp_path, tickets="def find(name, db):\n    return (\n")
    g = kit.grade(impl, modules=["tickets"])
    assert g.results["score"] == 0 and g.results["max_score"] > 0
    first = g.results["tests"][0]["output"]
    assert "importing tickets.py failed: SyntaxError" in first and "line" in first


def test_an_endless_loop_at_import_times_out_cleanly(tmp_path):
    impl = folder_with(tmp_path, tickets="while True:\n    pass\n")
    g = kit.grade(impl, modules=["tickets"], env=FAST)
    assert g.results["score"] == 0
    assert all("did not finish" in t["output"] for t in g.results["tests"])


HANGING_FIND = '''
import multiprocessing, os, time

def _looker(folder):
    open(os.path.join(folder, str(os.getpid())), "w").close()
    time.sleep(3600)

def find(name, db):
    folder = os.environ["HANG_PIDS"]  # the student's own folder may be read-only to it
    ps = [multiprocessing.Process(target=_looker, args=(folder,)) for _ in range(3)]
    for p in ps:
        p.start()
    while len(os.listdir(folder)) < 3:  # every looker is in _looker() before the hang
        time.sleep(0.01)
    for p in ps:
        p.join()
'''


def test_a_hang_times_out_shows_stacks_and_leaves_nothing_running(tmp_path):
    impl = folder_with(tmp_path, tickets=solution("tickets").replace("def find(", "def _find(")
                       + HANGING_FIND)
    pids = Path(tempfile.mkdtemp(prefix="kit-pids-"))  # outside pytest's private tmp folder
    os.chmod(pids, 0o777)  # writable whoever the grading child runs as (a throwaway uid)
    g = kit.grade(impl, "-k", "test_find_and_buy", modules=["tickets"],
                  env={"GRADER_TIMEOUT_SCALE": "0.6", "HANG_PIDS": str(pids)})
    [test] = g.results["tests"]
    assert test["status"] == "failed"
    assert "timed out after" in test["output"]
    assert "where each thread was stuck" in test["output"]
    assert "in _looker" in test["output"] and "in find" in test["output"]
    assert len(list(pids.iterdir())) == 3  # all three lookers started (pids as they saw them)
    assert kit.leftovers(g) == []  # and none is left: every process of that grading
    shutil.rmtree(pids)


def test_a_submission_root_holding_exercises_is_accepted(tmp_path):
    root = tmp_path / "student"
    (root / "exercises").mkdir(parents=True)
    shutil.copy(kit.SOLUTIONS / "queues.py", root / "exercises" / "queues.py")
    g = kit.grade(root, modules=["queues"])
    assert g.exit_code == 0 and g.full_marks
    assert g.results["extra_data"]["impl"] == str(root / "exercises")


def test_seed_is_reported_and_step_summary_written(tmp_path):
    summary = tmp_path / "summary.md"
    g = kit.grade(kit.SOLUTIONS, "--seed", "1234", modules=["queues"],
                  env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert g.results["extra_data"]["seed"] == 1234
    assert "--seed 1234" in g.output
    text = summary.read_text()
    assert text.startswith("## Grade:") and "| queues |" in text


def test_no_grading_child_is_left_behind():
    assert kit.leftovers() == []  # from any grading this test session started


def test_the_graders_copy_is_precompiled_and_a_doctored_pyc_is_put_back(tmp_path):
    """Children import the graders' copy from .pyc files the grader compiled (checked-hash:
    valid whatever PYTHONDONTWRITEBYTECODE says); restore() checks them like the sources."""
    import importlib.util

    from graders import harness

    saved = harness.CHILD_ROOT, harness._copy
    try:
        harness.use_copy_of_graders(tmp_path)
        copied = dict(harness._copy)
        harness.precompile({"counter"})  # a forked compiler, when this process has one thread
        assert harness.restore() == []  # waits for it first
        files = harness._copy
        child = tmp_path / "graders" / "_child.py"
        cached = Path(importlib.util.cache_from_source(str(child)))
        assert not any(p.suffix == ".pyc" for p in copied)
        assert cached in files and files[cached][4:8] == b"\x03\x00\x00\x00"  # checked hash
        compiled = {p.name.split(".")[0] for p in files if p.suffix == ".pyc"}
        assert {"counter", "schedule", "common"} <= compiled
        assert not {"tickets", "harness", "pages"} & compiled  # not for counter's children
        cached.write_bytes(cached.read_bytes()[:16] + b"doctored")
        planted = cached.with_name("planted.cpython-311.pyc")
        planted.write_bytes(b"planted")
        assert harness.restore() == [
            "graders/__pycache__/_child." + cached.name.split(".", 1)[1],
            "graders/__pycache__/planted.cpython-311.pyc"]
        assert cached.read_bytes() == files[cached] and not planted.exists()
        assert harness.restore() == []
        # Changed after the compiler wrote it, before the grader took the copy as it must stay
        # (a grading child may run meanwhile): removed, and named.
        cached.unlink()
        harness.precompile({"counter"})
        if harness.compiler_pid() is not None:
            os.waitpid(harness.compiler_pid(), 0)
        cached.write_bytes(b"doctored meanwhile")
        assert harness.restore() == ["graders/__pycache__/_child." + cached.name.split(".", 1)[1]]
        assert not cached.exists() and harness.restore() == []
    finally:
        harness.CHILD_ROOT, harness._copy = saved


def test_grading_children_are_born_in_the_graders_pids_cgroup(tmp_path):
    """With the cgroup rung, the grading process moves once into a pids cgroup of its own
    (not each child: a move waits for an RCU grace period), its children are born there under
    its pids.max, and it moves back and removes the cgroup when done."""
    import pytest

    from graders import contain, harness
    from graders.scenarios import common

    found = contain.probe()
    if not found.cgroup:
        pytest.skip("no writable cgroup v1 pids hierarchy here: " + "; ".join(found.why_not))
    impl = folder_with(tmp_path, queues="import os\n"
                       "print(open('/proc/self/cgroup').read())\n")
    saved = harness.CONTAINMENT, harness.CHILD_ROOT, harness._copy, harness._first_child_ready
    home = contain._pids_cgroup_of("self")
    copy = tempfile.TemporaryDirectory()  # tmp_path's parents are closed to the throwaway uid
    try:
        harness.CONTAINMENT, harness._first_child_ready = found, False
        harness.use_copy_of_graders(Path(copy.name))
        harness.precompile({"queues"})  # the compiler moves this process meanwhile
        out = harness.run(common.probe, "queues", impl=impl, timeout=10,
                          checks={"threads": False, "processes": False, "sockets": False})
        group = contain._cgroup["group"]
        assert out.status == "ok" and harness.CONTAINMENT.cgroup, (out.error, out.stderr[-800:])
        assert contain.in_cgroup(group)
        assert f":pids:/{Path(group).name}\n" in out.stdout  # the student's import, inside
        limit = int(Path(group, "pids.max").read_text())
        assert harness.LIMITS["processes"] < limit < harness.LIMITS["processes"] + 100
        contain.leave_cgroup()
        assert not Path(group).exists() and contain._pids_cgroup_of("self") == home
    finally:
        contain.leave_cgroup()
        copy.cleanup()
        harness.CONTAINMENT, harness.CHILD_ROOT, harness._copy, harness._first_child_ready = saved


def test_a_grading_leaves_no_temporary_files_behind():
    """multiprocessing's forkserver keeps a pymp-* folder in the temporary folder until it
    exits, and the harness kills it: the grading child's temporary folder is the grading's
    own, removed after it."""
    private = Path(tempfile.mkdtemp(prefix="kit-tmp-", dir="/tmp" if os.name == "posix"
                                    else None))
    try:
        os.chmod(private, 0o1777)  # as /tmp: the throwaway uid may write there
        g = kit.grade(kit.SOLUTIONS, "-k", "forkserver and test_sell", modules=["tickets"],
                      env={"TMPDIR": str(private)})
        assert g.results and g.exit_code == 0, g.output[-2000:]
        assert sorted(p.name for p in private.iterdir() if p.name.startswith("pymp-")) == []
    finally:
        shutil.rmtree(private, ignore_errors=True)


def test_the_childs_seal_names_what_student_code_changed_in_the_graders():
    """graders/_child.py's seal(), on its own: a replaced function, a function's code swapped
    in place, a class's method, a module swapped in sys.modules, the json encoder the result
    writer runs are named; data the graders rebind themselves (a probe, a counter) is not."""
    import json
    import sys
    import types

    from graders import _child
    from graders.scenarios import counter

    changed = _child.seal()
    assert changed() == []
    saved = (counter.quick_latency, counter._probe, _child.census.__code__,
             counter.Probe.enter, sys.modules["graders.schedule"], json.JSONEncoder.encode)
    try:
        counter._probe = counter.Probe(7)  # the scenario's own data: not code
        assert changed() == []
        counter.quick_latency = lambda low, high: None
        _child.census.__code__ = (lambda: {}).__code__
        counter.Probe.enter = lambda self: 1
        sys.modules["graders.schedule"] = types.ModuleType("graders.schedule")
        json.JSONEncoder.encode = lambda self, o: "{}"
        assert set(changed()) == {"graders.scenarios.counter.quick_latency",
                                  "graders._child.census", "graders.scenarios.counter.Probe.enter",
                                  "graders.schedule", "json.encoder.JSONEncoder.encode"}
    finally:
        (counter.quick_latency, counter._probe, _child.census.__code__, counter.Probe.enter,
         sys.modules["graders.schedule"], json.JSONEncoder.encode) = saved
    assert changed() == []


def _at_gate(folder, n, stall, limit, delay, out):
    import time

    from graders._perturb import _wait_at_gate

    time.sleep(delay)
    _wait_at_gate(folder, n, stall, limit)
    out.put((delay, time.monotonic()))


def _through_gate(tmp_path, n: int, delays: list[float], stall: float) -> list[float]:
    """Processes that come to a gate of `n` after `delays` s (its limit: 10 s); how long after
    they were started each went through it."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_at_gate, args=(str(tmp_path), n, stall, 10.0, d, out))
             for d in delays]
    import time

    started = time.monotonic()
    for p in procs:
        p.start()
    times = [out.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(10)
    return [t - started for _d, t in sorted(times)]


def test_the_start_gate_holds_processes_until_all_have_come(tmp_path):
    """Processes that come 0.3 s apart go through a gate of 3 together, once the last came;
    a gate of 4 that only 3 reach opens when none came for its stall."""
    (tmp_path / "a").mkdir()
    together = _through_gate(tmp_path / "a", 3, [0.0, 0.3, 0.6], stall=2.0)
    assert max(together) - min(together) < 0.25 and min(together) > 0.5, together
    (tmp_path / "b").mkdir()
    short = _through_gate(tmp_path / "b", 4, [0.0, 0.1, 0.2], stall=0.5)
    assert max(short) - min(short) < 0.25 and max(short) < 5, short  # the stall, not the limit
