"""Grader for queues.py: try_put() and drain() on queue.Queue and multiprocessing queues
(section 4: 消息队列)."""

import multiprocessing

import pytest

from graders import harness
from graders.harness import fail
from graders.scenarios import queues as sc

# The scenarios run student calls in daemon threads with their own deadlines, and report a
# call that hangs; such a thread cannot be stopped, so the thread leak check is off.
CHECKS = {"threads": False}

FIFO_TIMEOUT, EMPTY_TIMEOUT = 0.25, 0.2  # test_drain's drain() calls run at once
N, GAP, TIMEOUT, PICKLE_DELAY = 5, 0.03, 0.25, 0.1
EMPTY_MARGIN = 1.0  # drain(q, t) on an empty queue must return within t + this


@pytest.mark.points(2)
def test_try_put(student):
    """try_put() never blocks: True when there is room, False (item dropped) when full"""
    r = student.run(sc.try_put_all, checks=CHECKS, what="try_put()")
    for kind, seen in r.items():
        got = seen["returned"]
        if seen["hung"]:
            fail(
                f"on a full {kind}(maxsize=2), try_put(q, {seen['hung']}) did not return "
                f"within {sc.TRY_PUT_LIMIT:g} s: it blocked waiting for room. Put without "
                f"blocking (q.put(item, block=False) or q.put_nowait(item)) and return False "
                f"on queue.Full."
            )
        if got[:2] != ["True", "True"]:
            fail(
                f"try_put() on a {kind}(maxsize=2) with room returned {', '.join(got[:2])} "
                f"for the first two items; expected True, True (the bool True, item put)."
            )
        if got[2] != "False":
            fail(
                f"try_put() on a full {kind}(maxsize=2) returned {got[2]}; expected False "
                f"(the bool False: the item is dropped)."
            )
        if seen["content"] != ["'first'", "('second', 2)"]:
            fail(
                f"after try_put() of 'first', ('second', 2) and (on the full queue) 'third', "
                f"the {kind} held {', '.join(seen['content']) or 'nothing'}; expected "
                f"'first', ('second', 2): a True must put the item, a False must leave the "
                f"queue as it was."
            )


def _hung(where: str, timeout: float) -> str:
    return (
        f"drain() on {where} did not return within {timeout + sc.CALL_LIMIT:g} s "
        f"(timeout={timeout:g}): it must give up once no item has arrived for `timeout` "
        f"seconds (q.get(timeout=timeout) until queue.Empty), never wait forever."
    )


def _not_a_list(seen: dict, kind: str) -> str:
    return (
        f"drain() on a {kind} returned a {seen['type']} ({seen['repr']}); "
        f"expected a list of the items taken."
    )


@pytest.mark.points(2)
def test_drain(student):
    """drain() returns the items in FIFO order, [] from an empty queue, and calls no task_done()"""
    r = student.run(sc.drain_basics, FIFO_TIMEOUT, EMPTY_TIMEOUT, checks=CHECKS, what="drain()")
    expected = [repr(x) for x in sc.FIFO_ITEMS]
    for kind, seen in r["fifo"].items():
        if seen["hung"]:
            fail(_hung(f"a {len(expected)}-item {kind}", FIFO_TIMEOUT))
        if "items" not in seen:
            fail(_not_a_list(seen, kind))
        got = seen["items"]
        if got != expected:
            if sorted(got) == sorted(expected):
                fail(
                    f"drain() on a {kind} holding {len(expected)} items returned them out of "
                    f"order (starts {', '.join(got[:4])}; expected {', '.join(expected[:4])}):"
                    f" a queue is first in, first out; return the items in the order get() "
                    f"gives them."
                )
            missing = len([x for x in expected if x not in got])
            fail(
                f"drain() on a {kind} holding {len(expected)} items returned {len(got)} "
                f"({missing} missing; got {', '.join(got[:6])}{' ...' if len(got) > 6 else ''})"
                f": take every item, in order, until none arrives for `timeout` seconds. "
                f"Items just put on a multiprocessing queue show up a moment later, so "
                f"q.empty() is not a stopping rule."
            )
    for kind, seen in r["empty"].items():
        if seen["hung"]:
            fail(_hung(f"an empty {kind}", EMPTY_TIMEOUT))
        if "items" not in seen:
            fail(_not_a_list(seen, kind))
        if seen["items"]:
            fail(f"drain() on an empty {kind} returned {seen['repr']}; expected [].")
        if seen["seconds"] > EMPTY_TIMEOUT + EMPTY_MARGIN:
            fail(
                f"drain(q, timeout={EMPTY_TIMEOUT:g}) on an empty {kind} took "
                f"{seen['seconds']:.2f} s; it must return [] about `timeout` seconds after "
                f"the last item (here: none) arrived."
            )
    for kind, seen in r["tasks"].items():
        if seen["hung"]:
            fail(_hung(f"a 3-item {kind}", FIFO_TIMEOUT))
        if seen["task_done_ok"] != 3 or not seen["join_returned"]:
            fail(
                f"after drain() took the 3 items of a {kind}, only {seen['task_done_ok']} of "
                f"the caller's 3 task_done() calls were allowed: drain() already marked "
                f"{3 - seen['task_done_ok']} item(s) done. drain() must not call task_done(): "
                f"the caller, who processes the items, marks them done, and q.join() waits "
                f"for that."
            )


def _in_flight_advice(source: str) -> str:
    if source == "feeder":
        return ("an item put on a multiprocessing queue is sent by a background thread and "
                "shows up a moment after put() returned")
    return f"the producer {source} was still putting items, {GAP * 1000:g} ms apart"


@pytest.mark.points(3)
def test_drain_waits_for_items_in_flight(student):
    """drain() waits up to `timeout` for items still on their way from another process"""
    methods = [m for m in ("fork", "spawn", "forkserver")
               if m in multiprocessing.get_all_start_methods()]
    r = student.run(sc.drain_in_flight, methods, N, GAP, TIMEOUT, PICKLE_DELAY, checks=CHECKS,
                    what="drain()")
    if not r["started"]:
        fail("the grader's producer processes did not start within 15 s (machine overloaded?)")
    for case in r["cases"]:
        source, kind = case["source"], case["kind"]
        if source == "feeder":
            where = f"a {kind} on which one item was put just before the call"
            expected = ["'late item'"]
        else:
            by = f"a producer {source}"
            if source == "process":
                by += f" (started with the {case['method']} start method)"
            where = (f"a {kind} on which {by} put {N} items, {GAP * 1000:g} ms apart, from the "
                     f"moment drain() was called")
            expected = [repr(f"item{i}") for i in range(N)]
        if case["hung"]:
            fail(_hung(where, TIMEOUT))
        if "items" not in case:
            fail(_not_a_list(case, kind))
        got = case["items"]
        if got != expected and sorted(got) == sorted(expected):
            fail(f"drain() on {where} returned them out of order ([{', '.join(got)}]): a queue "
                 f"is first in, first out; return the items in the order get() gives them.")
        if got != expected:
            fail(f"drain(q, timeout={TIMEOUT:g}) on {where} returned [{', '.join(got)}]; "
                 f"expected [{', '.join(expected)}]: {_in_flight_advice(source)}. Wait for the "
                 f"next item up to `timeout` seconds and stop only when q.get(timeout=timeout) "
                 f"raises queue.Empty: q.empty() and get_nowait() only tell what has arrived "
                 f"so far.")


# drain()'s timeout is an idle limit: items IDLE_GAP s apart keep it going, IDLE_N of them
# over (IDLE_N - 1) * IDLE_GAP = 3.2 timeouts, so a deadline of `timeout` from the call loses
# the last two thirds of them. The producers pace themselves in real time: a gap they really
# left above IDLE_SOUND * timeout (a busy machine) makes that run inconclusive from that item
# on, and it is graded again, up to IDLE_RUNS runs.
IDLE_N, IDLE_GAP, IDLE_TIMEOUT, IDLE_SOUND, IDLE_RUNS = 9, 0.2, 0.5, 0.8, 3
IDLE_LIMIT = 10.0  # s of wall time a run gets (times the scale, but never less)


def _sound(case: dict) -> int:
    """How many leading items of a case came after gaps small enough to grade them."""
    gaps = case.get("gaps")
    if gaps is None:
        return 0
    for i, gap in enumerate(gaps):
        if gap > IDLE_SOUND * IDLE_TIMEOUT:
            return i
    return len(gaps)


@pytest.mark.points(2)
def test_drain_idle_timeout(student):
    """drain()'s timeout is an idle limit: it waits for items that keep coming, not a deadline"""
    for run in range(IDLE_RUNS):
        r = student.run(sc.drain_idle, IDLE_N, IDLE_GAP, IDLE_TIMEOUT, checks=CHECKS,
                        timeout=IDLE_LIMIT / min(1.0, harness.SCALE), what="drain()")
        if not r["started"]:
            fail("the grader's producer process did not start within 15 s (machine "
                 "overloaded?)")
        if all(_sound(c) == IDLE_N for c in r["cases"]) or run == IDLE_RUNS - 1:
            break
    expected = [repr(f"item{i}") for i in range(IDLE_N)]
    span = (IDLE_N - 1) * IDLE_GAP
    for case in r["cases"]:
        kind = case["kind"]
        by = "a producer thread" if kind == "queue.Queue" else "a producer process"
        where = (f"a {kind} on which {by} put {IDLE_N} items, {IDLE_GAP:g} s apart ({span:g} s "
                 f"from the first to the last), from the moment drain() was called")
        if case["hung"]:
            fail(_hung(where, span + IDLE_TIMEOUT))
        if "items" not in case:
            fail(_not_a_list(case, kind))
        got = case["items"]
        sound = IDLE_N if case.get("gaps") is None else _sound(case)
        if got[:sound] == expected[:sound] and (sound < IDLE_N or got == expected):
            continue
        if got == expected[:len(got)]:
            fail(f"drain(q, timeout={IDLE_TIMEOUT:g}) on {where} returned only the first "
                 f"{len(got)} ([{', '.join(got)}]), {case['seconds']:.2f} s after the call; "
                 f"expected all {IDLE_N}. `timeout` is an idle limit, not a deadline: drain() "
                 f"stops only once no item has arrived for `timeout` seconds, and starts "
                 f"counting again after every item it takes (q.get(timeout=timeout) in a loop "
                 f"until queue.Empty). Do not compute one deadline from the moment of the call.")
        if sorted(got) == sorted(expected):
            fail(f"drain() on {where} returned them out of order ([{', '.join(got)}]): a queue "
                 f"is first in, first out; return the items in the order get() gives them.")
        fail(f"drain(q, timeout={IDLE_TIMEOUT:g}) on {where} returned [{', '.join(got)}]; "
             f"expected [{', '.join(expected)}]: take every item, in order, until none "
             f"arrives for `timeout` seconds.")
