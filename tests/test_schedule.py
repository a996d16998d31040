"""The controlled scheduler (graders/schedule.py) on small modules written for the purpose:
races found on every seed and replayed exactly, correct code never blamed, deadlocks named,
blocking modelled (locks, joins, conditions, events, sleeps on the virtual clock), and what it
cannot control reported, never a hang."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
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


def test_scheduler_leaves_no_tracer_or_monitor_behind(tmp_path):
    mod, prefix = module(tmp_path, "locked2", COUNTERS["locked"])
    schedule.explore(lambda: mod.run(2, 1), total_is(2), prefix, module=mod, budget=1)
    assert sys.gettrace() is None
    if hasattr(sys, "monitoring"):
        assert sys.monitoring.get_tool(schedule._MONITOR) is None
    assert mod.threading.Lock is not schedule.Lock  # the module's names are put back
