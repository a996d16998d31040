"""The controlled scheduler (graders/schedule.py) on small modules written for the purpose:
races found on every seed and replayed exactly, correct code never blamed, deadlocks named,
blocking modelled (locks, joins, conditions, events, sleeps on the virtual clock), and what it
cannot control reported, never a hang."""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from graders import schedule

COUNTERS = {
    "unlocked": """
        import threading
        total = 0
        def add(n):
            global total
            for _ in range(n):
                total += 1
        def run(threads, n):
            global total
            total = 0
            ts = [threading.Thread(target=add, args=(n,)) for _ in range(threads)]
            for t in ts: t.start()
            for t in ts: t.join()
            return total
        """,
    "locked": """
        import threading
        total = 0
        lock = threading.Lock()
        def add(n):
            global total
            for _ in range(n):
                with lock:
                    total += 1
        def run(threads, n):
            global total
            total = 0
            ts = [threading.Thread(target=add, args=(n,)) for _ in range(threads)]
            for t in ts: t.start()
            for t in ts: t.join()
            return total
        """,
}


def module(tmp_path: Path, name: str, source: str):
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, str(folder) + "/"


def total_is(expected):
    def check(r):
        if "raised" in r:
            return r["raised"]
        return "" if r.get("value") == expected else f"returned {r.get('value')}"
    return check


@pytest.mark.parametrize("seed", range(5))
def test_lost_update_is_found_on_every_seed_and_replays(tmp_path, seed):
    mod, prefix = module(tmp_path, "unlocked", COUNTERS["unlocked"])
    r = schedule.explore(lambda: mod.run(2, 3), total_is(6), prefix, module=mod, seed=seed,
                         budget=5)
    found = r["found"]
    assert found and found["complaint"], r
    assert found["preemptions"] == 1 and found["replays"]
    assert schedule.conflict(found["events"])[1].startswith("lost update")
    for _ in range(20):
        again = schedule.explore(lambda: mod.run(2, 3), total_is(6), prefix, module=mod,
                                 replay=found["choices"])
        assert again["found"] and again["found"]["digest"] == found["digest"]
    lanes = schedule.lanes(found)
    assert "<< read total" in lanes and "<< write total" in lanes, lanes


def test_correct_code_is_never_blamed(tmp_path):
    mod, prefix = module(tmp_path, "locked", COUNTERS["locked"])
    r = schedule.explore(lambda: mod.run(3, 2), total_is(6), prefix, module=mod, seed=7,
                         budget=20)
    assert r["found"] is None and not r["uncontrolled"], r
    assert r["bound"] >= 0.99 and r["schedules"] >= r["pct_needed"]


def test_a_schedule_that_passed_is_known_not_rerun(tmp_path):
    """Known: a PCT sample that repeats a schedule already run counts without running; every
    schedule it calls known is one that really ran and passed."""
    mod, prefix = module(tmp_path, "locked", COUNTERS["locked"])
    ran = []
    real = schedule.run_schedule

    def spy(body, strategy, *args, **kwargs):
        r = real(body, strategy, *args, **kwargs)
        ran.append(tuple(r["choices"]))
        return r

    schedule.run_schedule = spy
    try:
        r = schedule.explore(lambda: mod.run(2, 2), total_is(4), prefix, module=mod, seed=3,
                             budget=20)
    finally:
        schedule.run_schedule = real
    assert r["found"] is None and r["bound"] >= 0.99, r
    assert r["executions"] == len(ran) == len(set(ran)) < r["schedules"], r

    # Fed a schedule, the tree knows the strategy that makes it, and only that one.
    known = schedule.Known()
    first = schedule.run_schedule(lambda: mod.run(2, 2), schedule.Sticky(), prefix, mod)
    known.add(first)
    assert known.knows(schedule.Sticky())
    assert not known.knows(schedule.PreemptOnce(2, 0))
    # The same choices meeting another situation (code that is not deterministic) turn it off.
    other = dict(first, seen=[((9, True),), *first["seen"][1:]])
    known.add(other)
    assert known.off and not known.knows(schedule.Sticky())


RAW_THREADS = """
    import _thread, time
    total = 0
    def run(threads, n, locked):
        global total
        total, done, lock = 0, [], _thread.allocate_lock() if locked else None
        def add():
            global total
            for _ in range(n):
                if lock:
                    with lock:
                        total += 1
                else:
                    total += 1
            done.append(1)
        for _ in range(threads):
            _thread.start_new_thread(add, ())
        while len(done) < threads:  # polled with sleeps: threads of _thread cannot be joined
            time.sleep(0.001)
        return total
    """


@pytest.mark.parametrize("locked", [False, True], ids=["unlocked", "locked"])
def test_threads_of_the_thread_module_are_controlled(tmp_path, locked):
    """_thread.start_new_thread starts a controlled thread; a caller that polls with sleep()
    cannot starve the threads it waits for (they run within schedule.FAIR virtual seconds)."""
    mod, prefix = module(tmp_path, "raw", RAW_THREADS)
    r = schedule.explore(lambda: mod.run(2, 2, locked), total_is(4), prefix, module=mod, seed=5,
                         budget=20)
    assert not r["uncontrolled"] and r["n"] == 3, r
    if locked:
        assert r["found"] is None and r["bound"] >= 0.99, r
    else:
        assert r["found"] and r["found"]["complaint"] == "returned 2", r
        assert schedule.conflict(r["found"]["events"])[1].startswith("lost update")


SUBCLASSED = """
    import threading
    total = 0
    lock = threading.Lock()
    class Adder(threading.Thread):  # the course's way two, made at import, before control
        def __init__(self, n, locked):
            super().__init__()
            self.n, self.locked = n, locked
        def run(self):
            global total
            for _ in range(self.n):
                if self.locked:
                    with lock:
                        total += 1
                else:
                    total += 1
    def run(threads, n, locked):
        global total
        total = 0
        ts = [Adder(n, locked) for _ in range(threads)]
        for t in ts: t.start()
        for t in ts: t.join()
        return total
    """


@pytest.mark.parametrize("locked", [False, True], ids=["unlocked", "locked"])
def test_the_modules_own_thread_subclasses_are_controlled(tmp_path, locked):
    """A threading.Thread subclass of the student's module runs controlled (its base is
    swapped for the scheduler's Thread while the schedule runs, and put back after)."""
    mod, prefix = module(tmp_path, "subclassed", SUBCLASSED)
    r = schedule.explore(lambda: mod.run(2, 2, locked), total_is(4), prefix, module=mod,
                         seed=2, budget=20)
    assert not r["uncontrolled"] and r["n"] == 3, r
    if locked:
        assert r["found"] is None and r["bound"] >= 0.99, r
    else:
        assert r["found"] and r["found"]["preemptions"] == 1, r
    assert mod.Adder.__bases__ == (threading.Thread,)


def test_lock_order_cycle_is_a_deadlock(tmp_path):
    mod, prefix = module(tmp_path, "cycle", """
        import threading
        a, b = threading.Lock(), threading.Lock()
        def one():
            with a:
                with b:
                    pass
        def two():
            with b:
                with a:
                    pass
        def run():
            ts = [threading.Thread(target=one), threading.Thread(target=two)]
            for t in ts: t.start()
            for t in ts: t.join()
            return 0
        """)
    r = schedule.explore(mod.run, total_is(0), prefix, module=mod, seed=1, budget=5)
    found = r["found"]
    assert found and "Deadlock" in found["complaint"], r
    assert schedule.conflict(found["events"])[1].startswith("deadlock")


def test_conditions_events_and_sleeps_are_modelled(tmp_path):
    mod, prefix = module(tmp_path, "pc", """
        import threading, time
        def run():
            items, cond, done = [], threading.Condition(), threading.Event()
            def producer():
                for i in range(3):
                    time.sleep(100)  # on the virtual clock
                    with cond:
                        items.append(i)
                        cond.notify()
                done.set()
            got = []
            def consumer():
                while len(got) < 3:
                    with cond:
                        while not items:
                            cond.wait()
                        got.append(items.pop(0))
            ts = [threading.Thread(target=producer), threading.Thread(target=consumer)]
            for t in ts: t.start()
            done.wait()
            for t in ts: t.join()
            return got
        """)
    started = time.monotonic()
    r = schedule.explore(mod.run, total_is([0, 1, 2]), prefix, module=mod, seed=3, budget=3)
    assert r["found"] is None and not r["uncontrolled"], r
    assert time.monotonic() - started < 10  # 300 virtual seconds per schedule, not real ones


def test_what_it_cannot_control_is_reported_not_hung(tmp_path, monkeypatch):
    monkeypatch.setattr(schedule, "STALL", 0.3)
    mod, prefix = module(tmp_path, "blocked", """
        import queue, threading
        def run():
            q = queue.Queue()  # its own lock and conditions: not the module's threading
            t = threading.Thread(target=lambda: q.put(1))
            t.start()
            value = q.get()
            t.join()
            return value
        """)
    started = time.monotonic()
    r = schedule.explore(mod.run, total_is(1), prefix, module=mod, seed=1, budget=3)
    assert time.monotonic() - started < 10
    if r["uncontrolled"]:  # the consumer blocked in queue.get with the baton
        assert "cannot see" in r["uncontrolled"], r
    else:
        assert r["found"] is None, r


def test_a_condition_made_under_control_wakes_all_once_control_is_given_up(tmp_path):
    """A pool's threads (not controllable) wait on a Condition the module made while it was
    controlled: notify_all() must then wake every real waiter, not one (a Barrier's tasks
    hung on that)."""
    mod, prefix = module(tmp_path, "pool", """
        import threading, time
        from concurrent.futures import ThreadPoolExecutor
        def run(n):
            cond, waiting, woke = threading.Condition(), [], []
            def one():
                with cond:
                    waiting.append(1)
                    woke.append(cond.wait(5))  # False: timed out, never notified
            with ThreadPoolExecutor(max_workers=n) as pool:
                for _ in range(n):
                    pool.submit(one)
                while True:
                    with cond:
                        if len(waiting) == n:
                            cond.notify_all()
                            break
                    time.sleep(0.001)
            return sum(woke)
        """)
    r = schedule.run_schedule(lambda: mod.run(6), schedule.Sticky(), prefix, module=mod)
    assert "does not control" in r["problem"], r
    assert r.get("value") == 6, f"{r.get('value')} of 6 waiters were notified"


def test_scheduler_leaves_no_tracer_or_monitor_behind(tmp_path):
    mod, prefix = module(tmp_path, "locked2", COUNTERS["locked"])
    schedule.explore(lambda: mod.run(2, 1), total_is(2), prefix, module=mod, budget=1)
    assert sys.gettrace() is None
    if hasattr(sys, "monitoring"):
        assert sys.monitoring.get_tool(schedule._MONITOR) is None
    assert mod.threading.Lock is not schedule.Lock  # the module's names are put back


# ------------------------------------------------------- through the graders, as a student


@pytest.mark.parametrize("variant", ["shared_state/threads_unlocked",
                                     "counter/counter_write_outside_lock"])
def test_race_variant_fails_with_lanes_a_replay_and_a_timeline(variant, tmp_path):
    """Graded as a student would be: the failure shows the lanes, the schedule is saved
    beside results.json, --replay fails the same way, and the timeline page renders in real
    headless Chromium (a screenshot is kept under reports/screenshots/)."""
    from tests import kit, test_pages

    module = variant.split("/")[0]
    folder = kit.mutant_folder(kit.MUTANTS / f"{variant}.py", tmp_path)
    results = tmp_path / "out" / "results.json"
    g = kit.grade(folder, modules=[module], results=results)
    test = {"shared_state": "test_threads_count_exactly",
            "counter": "test_no_lost_decrements"}[module]
    failed = [t for t in g.results["tests"] if t["extra_data"]["test"] == test]
    assert failed and failed[0]["status"] == "failed", g.output[-3000:]
    text = failed[0]["output"]
    assert "step  main (your function)" in text and "<< " in text, text
    saved = tmp_path / "out" / "schedules" / f"{module}-{test}.json"
    page = tmp_path / "out" / "timelines" / f"{module}-{test}.html"
    assert saved.exists() and page.exists(), text
    record = json.loads(saved.read_text())
    assert record["preemptions"] >= 1 and record["choices"] and record["module_sha256"]

    again = kit.grade(folder, "--replay", str(saved), modules=[module],
                      results=tmp_path / "again" / "results.json")
    replayed = [t for t in again.results["tests"] if t["status"] != "skipped"]
    assert [t["extra_data"]["test"] for t in replayed] == [test], again.output[-2000:]
    assert replayed[0]["status"] == "failed", again.output[-2000:]
    first_line = replayed[0]["output"].splitlines()[0]
    assert first_line == text.splitlines()[0].replace(
        f"among {record['schedules']} schedule(s)", "among 1 schedule(s)"), first_line
    after = json.loads((tmp_path / "again" / "schedules" / saved.name).read_text())
    assert after["digest"] == record["digest"]  # the same interleaving, step by step

    if test_pages.CHROMIUM is None:
        pytest.skip("chromium is not installed: .ci/run installs it")
    seen = test_pages.look(page)
    test_pages.assert_renders_clean(seen)
    assert len(seen.dom.all("rect")) >= len(record["events"])
    test_pages.screenshot(page, f"timeline-{module}")
