"""Grader for counter.py: a thread mutex around read-latency-write (course notes, section 11)."""

import pytest

from graders.harness import SCALE, fail
from graders.scenarios import counter as sc

START, THREADS = 100, 100  # the course's program: 100 threads take 1 each from 100
RACERS, PER_RACER = 20, 5
WAIT = 0.1  # how long the first decrement inside latency() waits for a second one to join it
STALL = 0.5  # how long the first latency() waits for one more decrement thread to appear
DEADLINE = 2.0 * SCALE  # how long a single decrement() or value may take before it is "stuck"


def _int(what: str, d: dict, expected: int) -> None:
    if d["value"] != expected:
        kind = "" if d["int"] else " (not an int)"
        fail(f"{what} gave {d['repr']}{kind}; expected {expected}.")


@pytest.mark.points(2)
def test_decrement_and_value(student):
    """decrement() returns the new value, the value property reads it, latency() runs once"""
    r = student.run(sc.basics, student.seed, timeout=10, what="SafeCounter")
    _int("SafeCounter(5, latency).decrement()", r["first"], 4)
    _int("counter.value after one decrement() from 5", r["value_1"], 4)
    if r["calls_1"] != 1:
        fail(f"one decrement() called latency() {r['calls_1']} times: call it exactly once "
             f"per decrement, between the read and the write.")
    _int("a second decrement() from 4", r["second"], 3)
    _int("counter.value after two decrement() calls from 5", r["value_2"], 3)
    if r["calls_2"] != 2:
        fail(f"two decrement() calls called latency() {r['calls_2']} times; expected 2.")
    for what, got, expected in zip(
        ("decrement()", "a second decrement()", "value"), r["keywords"], (1, 0, 0), strict=True
    ):
        _int(f"SafeCounter(value=2, latency=latency): {what}", got, expected)
    if r["calls_3"] != 4:
        fail(f"latency() was called {r['calls_3']} times for 4 decrements: SafeCounter must "
             f"call the latency it was given (keyword or positional) once per decrement.")
    _int("SafeCounter(7).decrement() with the default latency", r["default"][0], 6)
    _int("SafeCounter(7).value after one decrement()", r["default"][1], 6)
    net = r["network_latency"]
    if net["returned"] != "None":
        fail(f"network_latency() returned {net['returned']}; it should only sleep.")
    if net["seconds"] > 0.5 * SCALE:
        fail(f"network_latency() took {net['seconds']:.2f} s; it should sleep a few "
             f"milliseconds (100 threads take turns through it).")


@pytest.mark.points(2)
def test_latency_error_leaves_counter_usable(student):
    """a latency() that raises propagates, changes nothing, and the counter still works"""
    r = student.run(sc.latency_raises, student.seed, DEADLINE, checks={"threads": False},
                    what="SafeCounter.decrement()")
    first = r["raising"]
    if first["hung"]:
        fail(f"decrement() with a latency() that raised never returned (waited "
             f"{DEADLINE:g} s).")
    if "raised" not in first:
        fail(f"decrement() returned {first['returned']['repr']} although latency() raised "
             f"ConnectionError: let the exception propagate to the caller.")
    if not first["raised"].startswith("ConnectionError"):
        fail(f"latency() raised ConnectionError but decrement() raised {first['raised']}: "
             f"let the latency's exception propagate unchanged.")
    if r["calls"] != 1:
        fail(f"decrement() called latency() {r['calls']} times before giving up; expected "
             f"exactly once (no retry).")
    stuck = {"value_after": "reading value", "decrement": "decrement()",
             "value_end": "reading value"}
    for step, what in stuck.items():
        if r.get(step, {}).get("hung"):
            fail(f"{what} after a latency() that raised never returned (waited {DEADLINE:g} "
                 f"s): the lock stayed held. Release the lock on errors too (with "
                 f"self._lock:, or try/finally around acquire/release).")
        if "raised" in r.get(step, {}):
            fail(f"{what} after a latency() that raised itself raised {r[step]['raised']}: "
                 f"the counter must stay usable.")
    after = r["value_after"]["returned"]
    if after["value"] != 5:
        fail(f"value after a decrement() whose latency() raised is {after['repr']}; expected "
             f"5, unchanged: write value - 1 only after latency() returned.")
    _int("the next decrement() (normal latency) after the failed one, from 5",
         r["decrement"]["returned"], 4)
    _int("value after that decrement()", r["value_end"]["returned"], 4)


@pytest.mark.points(3)
def test_no_lost_decrements(student):
    """decrement() is atomic: 20 threads decrementing at once lose no update"""
    total = RACERS * PER_RACER
    start = total + 10
    r = student.run(sc.race, RACERS, PER_RACER, start, WAIT, student.seed, 5.0 * SCALE,
                    perturb=True, checks={"threads": False},  # stuck threads: reported below
                    what="SafeCounter.decrement() from many threads")
    if r["hung"]:
        fail(f"{r['hung']} of {RACERS} threads calling decrement() never returned (waited "
             f"{5 * SCALE:g} s): a deadlock in decrement().")
    if r["errors"]:
        fail(f"decrement() raised in a thread: {r['errors'][0]}.")
    if r["max_inside"] > 1:
        fail(f"{r['max_inside']} decrement() calls were inside latency() at the same time: "
             f"each must read the value, call latency() and write value - 1 as ONE step, "
             f"holding one lock (the counter's own threading.Lock) around all three. "
             f"Otherwise two threads read the same value and one update is lost.")
    final = r["final"]
    expected = start - total
    if final.get("hung"):
        fail("reading value after the decrements never returned: is the lock still held?")
    if final.get("returned", {}).get("value") != expected:
        got = final.get("returned", {}).get("repr", final.get("raised"))
        fail(f"{total} concurrent decrements from {start} left value {got}, expected "
             f"{expected}: updates were lost. Read, latency() and the write of value - 1 "
             f"must all happen while holding the lock; a write after the lock is released "
             f"can overwrite a newer value (the graders pause threads between bytecodes).")
    if r["calls"] != total:
        fail(f"latency() was called {r['calls']} times for {total} decrements; expected "
             f"exactly once each.")
    wanted = list(range(start - 1, expected - 1, -1))
    if sorted(r["ints"], reverse=True) != wanted:
        twice = sorted({v for v in r["ints"] if r["ints"].count(v) > 1}, reverse=True)
        odd = [v for v in r["returned"] if v not in map(repr, wanted)]
        seen = f"returned {twice[:5]} more than once" if twice else f"returned {odd[:5]}"
        fail(f"the {total} concurrent decrement() calls {seen}; each must return the value "
             f"it wrote ({start - 1} down to {expected}, each exactly once), read before the "
             f"lock is released: return inside `with self._lock:`.")


@pytest.mark.points(3)
def test_hundred_threads(student):
    """the course's 100 threads: drain_with_threads(100, 100) ends at 0"""
    r = student.run(sc.drain, START, THREADS, STALL, student.seed, timeout=15,
                    what="drain_with_threads()")
    call = f"drain_with_threads({START}, {THREADS}, latency)"
    if r["n_left"]:
        fail(f"{call} returned while {r['n_left']} of its threads were still running "
             f"({', '.join(r['left'])}): join every thread before reading the final value.")
    if r["n_unjoined"]:
        fail(f"{call} returned without joining {r['n_unjoined']} of the threads that called "
             f"decrement() ({', '.join(r['unjoined'])}{', ...' if r['n_unjoined'] > 5 else ''})"
             f": join every thread before reading the final value, or it may be read while "
             f"some still run.")
    if r["calls"] != THREADS:
        fail(f"{call} made {r['calls']} latency() calls; expected {THREADS}, one per thread "
             f"(each thread calls decrement() once, which calls latency() once). Pass the "
             f"latency on to SafeCounter(start, latency).")
    if r["max_inside"] > 1:
        fail(f"{r['max_inside']} threads were inside latency() at the same time: decrement() "
             f"must hold the lock around read, latency() and write.")
    if r["result"]["value"] != START - THREADS:
        fail(f"{call} returned {r['result']['repr']}; expected {START - THREADS}: each of the "
             f"{THREADS} threads takes exactly 1 from one SafeCounter({START}, latency), and "
             f"the final value is read after every thread was joined.")
    if r["threads_seen"] < THREADS:
        fail(f"while the first decrement was inside latency(), only {r['threads_seen']} of "
             f"the {THREADS} threads had been started (waited {r['waited']:g} s for more): "
             f"start all {THREADS} threads first, then join them all. A join right after "
             f"each start runs them one at a time; one thread per decrement.")
