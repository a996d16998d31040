"""Grader for ipc.py: transfer() through a producer and a consumer process (section 5: ipc机制)."""

import pytest

from graders.harness import fail
from graders.scenarios import ipc as sc

# The scenarios call transfer() in a daemon thread with a deadline and report a deadlock;
# the stuck thread cannot be stopped, so the harness's thread check is off and the scenario
# checks for leftover threads itself. The process checks stay on.
CHECKS = {"threads": False}
MANY = 20_000


def _check_left(seen: dict, what: str) -> None:
    left = seen["left"]
    if left["running"] or left["zombies"]:
        found = []
        if left["running"]:
            found.append(f"{len(left['running'])} still running")
        if left["zombies"]:
            found.append(f"{len(left['zombies'])} zombie(s)")
        fail(f"right after transfer() of {what} returned, the processes it started were not "
             f"all gone ({', '.join(found)}): join() both the producer and the consumer "
             f"(after reading the results) before returning, or they linger as zombies.")
    if left["unjoined"]:
        fail(f"transfer() of {what} returned without joining {left['unjoined']} of the "
             f"processes it started: call join() on the producer and the consumer (after "
             f"reading the results) so that they are reaped before transfer() returns.")
    if seen["threads"]:
        fail(f"transfer() of {what} returned but left thread(s) running: "
             f"{', '.join(seen['threads'])}. Let every thread you start end before returning.")


def _check_list(seen: dict, what: str) -> None:
    if seen["type"] != "list":
        fail(f"transfer() of {what} returned a {seen['type']} ({seen.get('repr', '')}); "
             f"expected a list of the items, in order.")


@pytest.mark.points(3)
def test_transfer(student, start_method):
    """transfer() returns every item in order, an 8 MB one too, and reaps both processes"""
    r = student.run(sc.transfer_mixed_and_big, start_method=start_method, checks=CHECKS,
                    timeout=30, what="transfer()")
    n = len(sc.MIXED)
    what = f"{n} small items"
    mixed = r["mixed"]
    if mixed["hung"]:
        fail(f"transfer() of {what} did not return within {sc.LIMIT:g} s (the "
             f"{mixed['killed']} process(es) still running were killed): does the consumer "
             f"stop after the last item, and does transfer() stop reading after the last "
             f"result? Mark the end in a way no item can imitate.")
    _check_list(mixed, what)
    expected = [sc.show(x) for x in sc.MIXED]
    got = mixed["items"]
    if got != expected:
        pairs = enumerate(zip(got, expected, strict=False))
        i = next((i for i, (a, b) in pairs if a != b), min(len(got), n))
        came = got[i] if i < len(got) else "nothing (the list ended)"
        fail(f"transfer() of {n} items returned {len(got)}, differing from item {i} on: "
             f"expected {expected[i]}, got {came}. Sent: [{', '.join(expected)}]; got: "
             f"[{', '.join(got)}]. Items may be None or strings such as 'DONE' or 'STOP': "
             f"never use an item value as the end mark; tag the items, e.g. ('item', x) ... "
             f"('done', None), or send the count first.")
    pids = [p for p in mixed["pids"] or [] if p != mixed["me"]]
    if len(set(pids)) < 2:
        fail(f"the items came back from transfer() having been pickled in "
             f"{len(set(pids))} other process(es); expected 2: a producer process puts the "
             f"items on a multiprocessing.Queue, a consumer process (not a thread of the "
             f"caller) takes them off and sends them back to the caller.")
    _check_left(mixed, what)
    big = r["big"]
    if big["hung"]:
        fail(f"transfer() did not return within {sc.LIMIT:g} s with one 8 MB item (the "
             f"{big['killed']} process(es) still running were killed): a process that put big "
             f"data on a queue cannot exit until it is read, so joining it first waits "
             f"forever. Read the results before joining the processes.")
    _check_list(big, "one 8 MB item")
    if big["n"] != 1 or not big["intact"]:
        fail(f"transfer() of one 8 MB bytes item returned {big['n']} item(s) (the first a "
             f"{big['first_type']}); expected the same 8,000,000 bytes back, once.")
    _check_left(big, "one 8 MB item")


@pytest.mark.points(2)
def test_transfer_many_items(student):
    """transfer() of 20,000 small items returns them all, in order, without deadlocking"""
    r = student.run(sc.transfer_many, MANY, checks=CHECKS, timeout=30, what="transfer()")
    what = f"{MANY:,} small items"
    if r["hung"]:
        fail(f"transfer() of {what} did not return within {sc.MANY_LIMIT:g} s (the "
             f"{r['killed']} process(es) still running were killed): a pipe holds only a few "
             f"kilobytes, so a process that put more on a queue cannot exit until it is read. "
             f"Read all the results before joining the processes.")
    _check_list(r, what)
    bad = r["first_bad"]
    if bad is not None:
        got = ", ".join(r["around"]) + (", ..." if r["around"] else "nothing")
        sent = ", ".join(str(i) for i in range(bad, min(bad + 5, MANY)))
        if r["permutation"]:
            fail(f"transfer() of the ints 0 .. {MANY - 1} returned them all but out of order: "
                 f"from position {bad} on it returned [{got}] where [{sent}, ...] was sent. One "
                 f"producer and one consumer, each taking the items in order, keep the order; "
                 f"several consumers do not.")
        fail(f"transfer() of the ints 0 .. {MANY - 1} returned {r['n']} items, wrong from "
             f"position {bad} on ([{got}] where [{sent}, ...] was sent): every item must come "
             f"back exactly once, in order.")
    _check_left(r, what)
