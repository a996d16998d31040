"""Grader for producer_consumer.py: producers and consumers on a JoinableQueue (section 6)."""

from collections import Counter

import pytest

from graders.harness import fail
from graders.scenarios import producer_consumer as sc

# kitchen() runs in a thread of the grading child and may be left stuck there on purpose;
# the scenario checks what it leaves behind itself, with feedback specific to the kitchen.
OWN_CHECKS = {"threads": False, "processes": False}

FIRST = ["jason:bun:0", "jason:bun:1", "ahsan:naan:0", "jason:bun:2"]
SECOND = ["ahsan:naan:1", "ahsan:naan:2"]
BAD = ["jason:bun:1", "ahsan:naan:2"]  # the grader's eat raises for these
COUNT, CONSUMERS = 8, 2  # the kitchen: items per producer (2 producers), consumer processes


def test_producer(student):
    """producer() puts count items f"{name}:{food}:{i}", i from 0, in order"""
    r = student.run(sc.producer_run, what="producer()")
    got = r["items"]
    want = [f"jason:bun:{i}" for i in range(5)]
    odd = [g for g in got if not isinstance(g, str)]
    if odd:
        fail(f"producer() put {odd[0]} on the queue; items must be strings "
             f'f"{{name}}:{{food}}:{{i}}", e.g. "jason:bun:0".')
    if got[:5] == want and len(got) > 5:
        fail(f"producer('ahsan', 'naan', 0, q) put {len(got) - 5} item(s) ({got[5]!r}, ...); "
             f"with count 0 it must put nothing.")
    if got != want:
        fail(f"producer('jason', 'bun', 5, q) put {len(got)} item(s) {got[:6]}; expected "
             f"{want}: count items f\"{{name}}:{{food}}:{{i}}\" with i = 0, 1, ... count-1, "
             f"in that order.")


def _done_per_item(log: list) -> tuple[list, int]:
    """[item, times marked done] for each get, in order; and task_done() calls before any get."""
    taken, early = [], 0
    for event in log:
        if event[0] == "get":
            taken.append([event[1], 0])
        elif event[0] == "done":
            if taken:
                taken[-1][1] += 1
            else:
                early += 1
    return taken, early


def _done_before_eaten(log: list):
    """The first item marked done while eat() had not finished with it, or None.

    A task_done() is fine when some eaten item is not yet marked done (even if the consumer
    already took the next one), or when the last item taken is the stop sign."""
    eaten_not_done, last = 0, None
    for event in log:
        if event[0] == "get":
            last = event[1]
        elif event[0] == "ate":
            eaten_not_done += 1
        elif event[0] == "done":
            if eaten_not_done:
                eaten_not_done -= 1
            elif last is not None:
                return last
    return None


@pytest.mark.points(2)
def test_consumer(student):
    """consumer() eats every item, marks each done once (eat raising too), returns on None"""
    r = student.run(sc.consumer_run, FIRST, SECOND, BAD, what="consumer()",
                    checks={"threads": False})
    items = FIRST + SECOND
    log = r["log"]
    took_none = ["get", None] in log
    taken, early = _done_per_item(log)
    twice = [(item, n) for item, n in taken if n > 1]
    if twice:  # first: a second task_done() may also have raised ValueError in the consumer
        item, n = twice[0]
        fail(f"consumer() marked {item!r} done {n} times with q.task_done(): exactly once "
             f"per item. An extra call lets the kitchen's q.join() return before every "
             f"item is eaten (or raises ValueError: task_done() called too many times).")
    if r["raised"]:
        if r["raised"].startswith("BadBun"):
            fail(f"consumer() raised {r['raised']}: the grader's eat raises for {BAD} on "
                 f"purpose. A consumer must survive that: catch Exception around "
                 f"eat(name, item), report it, mark the item done and go on with the next item.")
        fail(f"consumer() raised {r['raised']} while eating {items} from the queue.")
    if r["early"]:
        fail(f"consumer() returned after eating {len(r['eats'])} item(s), while the queue "
             f"was empty for a moment but before any stop sign was put: a consumer loops "
             f"forever on q.get() (which waits for the next item) and only None ends it.")
    if r["after_stop"]:
        fail("consumer() called q.get() again after it took the stop sign None: mark the "
             "stop sign done and return.")
    if not r["returned"]:
        if took_none:
            fail("consumer() took the stop sign None but did not return within 3 s: None "
                 "must end the loop (mark it done, then return).")
        fail(f"consumer() never took the stop sign None and did not return within 3 s "
             f"(it took {sum(e[0] == 'get' for e in log)} of {len(items) + 1} items).")
    eaten = Counter(item for _name, item in r["eats"])
    if None in eaten:
        fail("consumer() called eat() with the stop sign None: None is not food, it ends "
             "the consumer (mark it done and return without eating it).")
    wrong = [name for name, _item in r["eats"] if name != "diner-7"]
    if wrong:
        fail(f"consumer('diner-7', q, eat) called eat({wrong[0]!r}, item): pass the "
             f"consumer's own name as the first argument.")
    if eaten != Counter(items):
        twice = [i for i, n in eaten.items() if n > 1]
        missing = [i for i in items if i not in eaten]
        what = f"ate {twice[0]!r} {eaten[twice[0]]} times" if twice else \
            f"never ate {missing[0]!r}" if missing else f"ate {dict(eaten)}"
        fail(f"consumer() {what}; expected each of the {len(items)} items put on the queue "
             f"eaten exactly once.")
    early_done = _done_before_eaten(log)
    if early_done is not None:
        fail(f"consumer() marked {early_done!r} done with q.task_done() before eat() had "
             f"finished with it: q.join() counts an item as processed once it is marked done, "
             f"so the kitchen could go on (stop the consumers, return) while items are still "
             f"being eaten. Call q.task_done() after eat(name, item) has returned or raised "
             f"(in a finally).")
    dones = sum(e[0] == "done" for e in log)
    if dones == len(taken):
        return
    if early:
        fail(f"consumer() called q.task_done() {early} time(s) before taking any item: "
             f"mark an item done once, after taking and eating it.")
    for item, n in taken:
        if n == 1:
            continue
        if item is None:
            fail("consumer() took the stop sign None but never marked it done: call "
                 "q.task_done() for the stop sign too, before returning.")
        if item in BAD:
            fail(f"consumer() never marked {item!r} done, the item for which eat() raised: "
                 f"q.task_done() must run also when eat raises (try/finally), or the "
                 f"kitchen's q.join() waits forever.")
        fail(f"consumer() took {item!r} but never marked it done with q.task_done(): the "
             f"kitchen's q.join() would wait forever. Call it once per item, after eat().")
    fail(f"consumer() called q.task_done() {dones} times for {len(taken)} items taken "
         f"(the stop sign included): exactly once per item.")


def _roles(roles: list) -> str:
    """["consumer", "consumer", "producer"] -> "2 consumer processes, 1 producer process"."""
    counts = Counter(roles)
    return ", ".join(
        f"{n} {'' if role == 'process' else role + ' '}process{'es' if n > 1 else ''}"
        for role, n in counts.items())


def _check_stuck(r: dict, who: str) -> None:
    eaten, expected, n_cons = len(r["eaten"]), r["expected"], r["n_consumers"]
    where = r["where"]
    at = f" (your code at {where['line']})" if where.get("line") else ""
    alive = [role for role in r["alive"] if role == "consumer"]
    died = r["died"]
    state = f"{eaten} of {expected} items were eaten"
    if died:
        codes = ", ".join(str(code) for _role, code in died)
        bad = f" (the grader's eat raises for {r['bad']} on purpose)" if r["bad"] else ""
        tail = r["stderr"].strip()
        fail(f"{who} did not return: {state}, and {_roles([role for role, _ in died])} "
             f"died (exit code {codes}). A consumer must not die: when eat raises{bad}, "
             f"catch the exception, mark the item done with q.task_done() and go on, or "
             f"q.join() waits forever for it." + (f"\n\nstderr:\n{tail}" if tail else ""))
    if where["kind"] == "process join":
        still = f"{len(alive)} of {n_cons} consumers still waiting for items" if alive else \
            "the process never ended"
        fail(f"{who} did not return ({state}): it waits forever in .join() of a "
             f"{where.get('joined', 'child')} process{at}, {still}. Consumers loop forever "
             f"and return only on a stop sign: after q.join(), send one None per consumer "
             f"({n_cons} here), then join them.")
    if where["kind"] == "queue join":
        left = where.get("unfinished")
        left = f" with {left} item(s) never marked done" if left is not None else ""
        fail(f"{who} did not return ({state}): it is stuck in q.join(){left}{at}. Every item "
             f"a consumer takes must be marked done with q.task_done() exactly once (also "
             f"when eat raises), or q.join() never returns.")
    if r["stuck"] == "after all":
        fail(f"{who} did not return within {sc.AFTER_ALL:g} s after all {expected} items "
             f"were eaten{at}: once q.join() returns, stop the consumers (one None each) "
             f"and join every process.")
    fail(f"{who} made no progress for {sc.STALL:g} s ({state}, "
         f"{_roles(r['alive']) or 'no process'} still running){at}: start the producers and "
         f"the consumers, join the producers, then q.join().")


def _check_kitchen(r: dict, who: str) -> None:
    if r["stuck"]:
        _check_stuck(r, who)
    want = Counter(f"{name}:{food}:{i}" for name, food in r["menu"].items()
                   for i in range(r["count"]))
    eaten = Counter(item for _name, _pid, item in r["eaten"])
    odd = [item for item in eaten if item not in want]
    if odd:
        fail(f"{who} called eat() with {odd[0]!r}, which is not an item of the menu: items "
             f'are f"{{producer}}:{{food}}:{{i}}" with i from 0, and the stop sign None is '
             f"never eaten.")
    twice = [item for item, n in eaten.items() if n > 1]
    if twice:
        fail(f"{who} ate {twice[0]!r} {eaten[twice[0]]} times: every item must be eaten "
             f"exactly once (one producer process per menu entry).")
    missing = sorted(set(want) - set(eaten))
    if missing:
        later = f"; {r['eaten_later']} more were eaten after it returned" \
            if r["eaten_later"] else ""
        fail(f"{who} returned when only {sum(eaten.values())} of {r['expected']} items had "
             f"been eaten (not {missing[0]!r}){later}: wait for the producers (join them), "
             f"then q.join() until every item is marked done, and only then stop the "
             f"consumers.")
    if any(pid == r["my_pid"] for _name, pid, _item in r["eaten"]):
        fail(f"{who} ate in the process that called it: eat() must run in the consumer "
             f"processes (multiprocessing.Process(target=consumer, ...)).")
    consumers = [role for role in r["running"] if role == "consumer"]
    if consumers:
        fail(f"{who} returned but left {_roles(consumers)} running, waiting for items that "
             f"never come. Daemon consumers are only killed when the calling "
             f"program exits, not when kitchen() returns: after q.join(), send one None per "
             f"consumer ({r['n_consumers']} here) and join every consumer.")
    if r["running"]:
        fail(f"{who} returned but left {_roles(r['running'])} running: join every process "
             f"before returning.")
    if r["zombies"]:
        fail(f"{who} returned without joining {_roles(r['zombies'])} that had ended "
             f"(zombies): join every producer and consumer.")
    if r["threads"]:
        fail(f"{who} returned but left thread(s) running: {', '.join(r['threads'])}.")


@pytest.mark.points(2)
def test_kitchen(student, start_method):
    """kitchen() with 2 cooks and 2 diners eats every item once, returns, leaves no process"""
    r = student.run(sc.kitchen_run, COUNT, CONSUMERS, 0.005, start_method=start_method,
                    checks=OWN_CHECKS, what="kitchen()")
    _check_kitchen(r, f"kitchen() with 2 producers x {COUNT} items and {CONSUMERS} consumers")


def test_kitchen_small(student):
    """kitchen() with a single consumer, and with nothing to eat, finishes cleanly"""
    r = student.run(sc.kitchen_small_run, checks=OWN_CHECKS, what="kitchen()")
    _check_kitchen(r["one"], "kitchen() with 2 producers x 3 items and 1 consumer")
    _check_kitchen(r["empty"], "kitchen() with 1 producer x 0 items and 2 consumers")


INTERRUPTED_COUNT, INTERRUPTED_CONSUMERS = 3, 2


def test_kitchen_interrupted(student):
    """kitchen() interrupted (KeyboardInterrupt) while it waits leaves no process behind

    The contract gives kitchen() no input on which it must raise, yet "no process left
    behind" is what a careful instructor expects on every path, and an exception can always
    reach it from outside: Ctrl-C, or a signal handler of the caller (signal.alarm) raising
    in the main thread. So the grader's eat holds the last item, and once everything else is
    eaten and kitchen() waits in q.join(), the grader raises KeyboardInterrupt in it (SIGINT
    to the calling thread only: the consumers get no signal, as when the caller's own code
    raises), then lets the held item go. kitchen() must let the exception through and, by
    then, have stopped and joined every process it started: the usual way is a `finally:`
    that terminate()s what still runs and joins everything (a graceful stop with one None
    per consumer, then joins, is fine too). Daemon consumers do not make up for it: they
    die only when the whole program exits, and a caller that catches the exception goes on.
    """
    r = student.run(sc.kitchen_interrupted_run, INTERRUPTED_COUNT, INTERRUPTED_CONSUMERS,
                    checks=OWN_CHECKS, what="kitchen()")
    who = (f"kitchen() with 2 producers x {r['count']} items and {r['n_consumers']} "
           f"consumers")
    where = r["where"] or {}
    what = (f"the grader interrupted it with KeyboardInterrupt (SIGINT to the calling thread, "
            f"as Ctrl-C sends) while {r['expected'] - 1} of {r['expected']} items were eaten "
            f"and the grader's eat held the last one, {r['held']!r}"
            + (", kitchen() waiting in q.join()" if where.get("kind") == "queue join" else ""))
    if not r["ready"]:
        how = (f"raised {r['raised']} before" if r["raised"] and not r["sent"] else
               f"did not get within {sc.LIMIT:g} s to the point where")
        fail(f"{who} {how} every item but the one the grader's eat holds ({r['held']!r}) was "
             f"eaten, so it could not be interrupted there: make test_kitchen pass first.")
    if r["stuck"]:
        stuck = r["stuck"]
        at = f" (your code at {stuck['line']})" if stuck.get("line") else ""
        how = (f"in .join() of a {stuck.get('joined', 'child')} process"
               if stuck["kind"] == "process join" else
               "in q.join()" if stuck["kind"] == "queue join" else "somewhere")
        alive = f"; still running: {_roles(r['alive'])}" if r["alive"] else ""
        fail(f"{who} did not come back within {sc.BACK:g} s after {what}: it waits {how}{at}"
             f"{alive}. When an exception interrupts kitchen(), its clean-up must not wait "
             f"for consumers that will never stop by themselves: terminate() every process "
             f"still alive, then join them all (in a finally), and let the exception "
             f"propagate.")
    if r["raised"] is None:
        fail(f"{who} returned normally although {what}: an exception that interrupts "
             f"kitchen() must reach its caller. Clean up in a finally (or except "
             f"BaseException: ...; raise), do not swallow it.")
    raised = "let the KeyboardInterrupt through" if r["interrupted"] else f"raised {r['raised']}"
    if r["running"]:
        fail(f"{who} {raised} when {what}, but left {_roles(r['running'])} running. No "
             f"process may be left behind on any path, also when kitchen() raises: in a "
             f"finally, terminate() every process still alive (the consumers wait for items "
             f"that never come), then join every process you started. Daemon processes die "
             f"only when the whole program exits, and a caller that catches the exception "
             f"goes on running.")
    if r["zombies"]:
        fail(f"{who} {raised} when {what}, and left {_roles(r['zombies'])} that had ended but "
             f"were never joined (zombies): join every process you started, also when "
             f"kitchen() raises.")
