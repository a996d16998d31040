"""Hidden grader for tickets.py: a bigger crowd of buyers, and sell() under forkserver."""

import multiprocessing

import pytest

from graders.harness import fail
from graders.i18n import _
from graders.scenarios import tickets as sc
from graders.test_tickets import (
    NAP,
    WAIT,
    check_lost_updates,
    check_processes,
    check_race,
    race_desk,
    sell_desk,
)

pytestmark = pytest.mark.hidden

FORK = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
SERVER = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


@pytest.mark.points(2)
def test_crowd_of_buyers(student):
    """no ticket sold twice when 40 buyer processes call buy() at once for 8 tickets"""
    buyers, tickets = 40, 8
    r = race_desk(tickets, buyers, student.seed).run(student, sc.buy_race, buyers,
                                                     start_method=FORK, what="buy()")
    check_race(r, _("buyers calling buy() at once"), buyers, tickets)
    if r["unlocked"] or not r["lock_free"]:
        fail(_("latency() ran while the lock was free, or the lock stayed held afterwards: "
               "hold exactly the lock passed to buy(), and release it on every path."))


@pytest.mark.points(2)
def test_sell_to_a_crowd(student):
    """sell() sells each of 6 tickets once to 30 buyers under forkserver"""
    buyers, tickets = 30, 6
    r = sell_desk(tickets, buyers, student.seed).run(student, sc.sell_race, buyers,
                                                     start_method=SERVER, timeout=15,
                                                     what="sell()")
    if r["stalled"]:
        fail(_("sell() to {buyers} buyers got stuck: {calls} of them reached latency() "
               "({killed} processes still running were killed).").format(
            buyers=buyers, calls=r["calls"], killed=r["killed"]))
    result = r["result"]
    if r["type"] != "dict" or sorted(result) != sorted(f"buyer{i}" for i in range(buyers)):
        fail(_("sell() to {buyers} buyers returned a {type} without one entry per "
               "buyer.").format(buyers=buyers, type=r["type"]))
    sold = sum(v is True for v in result.values())
    remaining = r["remaining"]
    check_lost_updates(r, tickets, _("sell()'s buyers"))
    if r["overlap"] or sold != tickets or remaining != 0:
        fail(_("sell() reported {sold} of {buyers} buyers with a ticket; {tickets} existed and "
               "ticket_num is now {remaining!r}: two buyers were inside latency() at once. "
               "Create ONE multiprocessing.Lock in sell() and pass it to every "
               "process.").format(sold=sold, buyers=buyers, tickets=tickets,
                                  remaining=remaining))
    if r["calls"] != buyers:
        fail(_("latency() was called {calls} times for {buyers} buyers: pass `latency` on to "
               "every buy().").format(calls=r["calls"], buyers=buyers))
    check_processes(r, buyers)


# Waiting by design (issue 16): the seconds each test spends in the grader's deliberate waits
# (observation windows, sleeps, paced producers, timeouts the code must run out) when the
# submission is correct and the machine quiet, derived from the constants above; per
# parametrized instance, and 0 for a test that reuses another's run. Summed over a grading
# it is that grading's floor: `nox -s bench -- --profile` prints it beside what was measured.
DESIGN_WAIT = {  # as test_no_ticket_sold_twice and test_sell, with 40 and 30 buyers
    "test_crowd_of_buyers": sc.SETTLE + (40 - 1) * NAP,
    "test_sell_to_a_crowd": WAIT + (30 - 1) * NAP,
}
