"""Hidden grader for tickets.py: a bigger crowd of buyers, and sell() under forkserver."""

import multiprocessing

import pytest

from graders.harness import fail
from graders.scenarios import tickets as sc
from graders.test_tickets import check_race

pytestmark = pytest.mark.hidden

FORK = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
SERVER = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
WAIT = 0.3  # as in the visible grader: the first buyer in latency() waits for a second one


@pytest.mark.points(2)
def test_crowd_of_buyers(student):
    """no ticket sold twice when 40 buyer processes call buy() at once for 8 tickets"""
    buyers, tickets = 40, 8
    r = student.run(sc.buy_race, buyers, tickets, WAIT, student.seed,
                    start_method=FORK, what="buy()")
    check_race(r, "buyers calling buy() at once", buyers, tickets)
    if r["unlocked"] or not r["lock_free"]:
        fail("latency() ran while the lock was free, or the lock stayed held afterwards: "
             "hold exactly the lock passed to buy(), and release it on every path.")


@pytest.mark.points(2)
def test_sell_to_a_crowd(student):
    """sell() sells each of 6 tickets once to 30 buyers under forkserver"""
    buyers, tickets = 30, 6
    r = student.run(sc.sell_race, buyers, tickets, WAIT, student.seed,
                    start_method=SERVER, timeout=15, what="sell()")
    if r["stalled"]:
        fail(f"sell() to {buyers} buyers got stuck: {r['calls']} of them reached latency() "
             f"({r['killed']} processes still running were killed).")
    result = r["result"]
    if r["type"] != "dict" or sorted(result) != sorted(f"buyer{i}" for i in range(buyers)):
        fail(f"sell() to {buyers} buyers returned a {r['type']} without one entry per buyer.")
    sold = sum(v is True for v in result.values())
    remaining = (r["after"] or {}).get("ticket_num")
    if r["overlap"] or sold != tickets or remaining != 0:
        fail(f"sell() reported {sold} of {buyers} buyers with a ticket; {tickets} existed and "
             f"ticket_num is now {remaining!r}: two buyers were inside latency() at once. "
             f"Create ONE multiprocessing.Lock in sell() and pass it to every process.")
    if r["calls"] != buyers:
        fail(f"latency() was called {r['calls']} times for {buyers} buyers: pass `latency` "
             f"on to every buy().")
