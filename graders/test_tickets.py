"""Grader for tickets.py: the ticket office, a mutex lock between processes (section 3)."""

import pytest

from graders.harness import fail
from graders.scenarios import tickets as sc

BUYERS, TICKETS = 20, 5
WAIT = 0.3  # how long the first buyer inside latency() waits for a second one to join it


@pytest.mark.points(2)
def test_find_and_buy(student):
    """find() reads ticket_num; buy() sells until sold out and keeps the other keys"""
    r = student.run(sc.basics, student.seed, what="find()/buy()")
    if r["find"] != 2 or type(r["find"]) is not int:
        fail(f"find() returned {r['find']!r} for a database holding ticket_num 2: "
             f"it must return ticket_num as an int.")
    if r["buys"] != [True, True, False] or any(type(b) is not bool for b in r["buys"]):
        shown = ", ".join(map(repr, r["buys"]))
        fail(f"three buy() calls on 2 tickets returned {shown}; expected "
             f"True, True, False (False once sold out).")
    after = r["after"]
    if after.get("ticket_num") != 0:
        fail(f"after selling both tickets the database holds ticket_num "
             f"{after.get('ticket_num')!r}; expected 0 (write back ticket_num - 1).")
    if after.get("event") != "concert" or after.get("seats") != [1, 2, 3]:
        fail(f"buy() lost the other keys of the database (now {sorted(after)}): write back the "
             f"whole object with only ticket_num changed.")
    if r["calls"] != 3:
        fail(f"latency() was called {r['calls']} times for 3 buy() calls: call it exactly "
             f"once per buy, sold out or not (it is the booking system's round trip).")
    if r["unlocked"]:
        fail(f"latency() ran {r['unlocked']} time(s) while the lock was not held: read, wait "
             f"for latency() and write back must all happen inside the lock.")
    if not r["lock_free"]:
        fail("after buy() returned, the lock was still held: release it on every path "
             "(use `with lock:`).")


@pytest.mark.points(3)
def test_bad_database(student):
    """a bad database or a failing latency() raises, changes nothing and frees the lock"""
    for r in student.run(sc.bad_databases, what="buy()"):
        case = f"buy() on a database with {r['kind']}"
        if r["kind"] == "latency raises":
            case = "buy() whose latency() raised ConnectionError"
        if r["hung"]:
            fail(f"{case} did not return within 5 s.")
        if r["raised"] is None:
            fail(f"{case} returned {r['returned']} instead of raising: a database it cannot "
                 f"trust must raise an exception, and so must a failed latency().")
        if not r["unchanged"]:
            fail(f"{case} raised {r['raised']} but changed the folder (now {r['files_after']}): "
                 f"a failed buy must leave the database as it was.")
        if not r["lock_free"]:
            fail(f"{case} raised {r['raised']} and left the lock held: every later buyer would "
                 f"wait forever. Release it on errors too (`with lock:`).")


def test_find_bad_database(student):
    """find() on a missing or corrupt database raises instead of returning a bad ticket_num"""
    results = student.run(sc.find_bad_databases, what="find()")
    for r in results:
        if r["hung"]:
            fail(f"find() on a database with {r['kind']} did not return within 5 s.")
    trusted = [r for r in results if r["raised"] is None]
    if trusted:
        shown = "; ".join(f"with {r['kind']} it returned {r['returned']} (type {r['type']})"
                          for r in trusted)
        hint = ""
        if any(r["kind"] == "ticket_num is true" for r in trusted):
            hint = (" Note that JSON true is the bool True, and isinstance(True, int) holds "
                    "in Python (bool is a subclass of int): reject bools explicitly "
                    "(type(n) is not int, or isinstance(n, bool)).")
        fail(f"find() on {len(trusted)} missing or corrupt database(s) returned instead of "
             f"raising: {shown}. find() returns ticket_num, a number of tickets, so a "
             f"database that does not hold one (not JSON, not an object, ticket_num missing "
             f"or not a non-negative int) must raise an exception, as buy() does. Validate "
             f"what you read, e.g. in one loading function that find() and buy() share."
             f"{hint}")
    for r in results:
        if not r["unchanged"]:
            fail(f"find() on a database with {r['kind']} raised {r['raised']} but changed the "
                 f"folder (now {r['files_after']}): find() only reads the database.")


def test_find_takes_no_lock(student):
    """find() answers while another buyer holds the lock"""
    r = student.run(sc.find_during_buy, student.seed, what="find()")
    if not r["reached_latency"]:
        fail("buy() never called latency() within 5 s.")
    if r["find_blocked"]:
        fail("find() waited while another buyer was inside buy(): find only reads, it must "
             "not take the lock (or any lock buy() holds).")
    if r["found"] != 4 or type(r["found"]) is not int:
        fail(f"find() during a buy returned {r['found']!r}; expected 4 (the value before it).")


def check_race(r, who: str, buyers: int = BUYERS, tickets: int = TICKETS) -> None:
    """The verdict on a buy_race() run; the hidden crowd test uses it too."""
    answers = r["answers"]
    sold = sum(a == "True" for a in answers.values())
    odd = {n: a for n, a in answers.items() if a not in ("True", "False")}
    if r["stuck"]:
        fail(f"{len(r['stuck'])} of {buyers} buyers never returned from buy() (no buyer "
             f"finished for {sc.STALL:g} s) after {sold} ticket(s) were sold: the lock was not "
             f"released on some path, probably the sold-out one. Use `with lock:` so every "
             f"return releases it.")
    if odd:
        name, a = next(iter(odd.items()))
        fail(f"{len(odd)} buyer(s) did not get True/False from buy(); {name}: {a}.")
    if r["overlap"] or sold > tickets or r["remaining"] != 0:
        fail(f"{sold} of {buyers} {who} got a ticket but only {tickets} existed (ticket_num "
             f"now {r['remaining']!r}): two buyers were inside latency() at the same time, so "
             f"both read ticket_num before either wrote it back. buy() must read, wait for "
             f"latency() and write back while holding the lock.")
    if sold != tickets:
        fail(f"only {sold} of {tickets} tickets were sold to {buyers} {who}: every ticket "
             f"should find a buyer.")
    if r["calls"] != buyers:
        fail(f"latency() was called {r['calls']} times for {buyers} buys: exactly once each.")


@pytest.mark.points(3)
def test_no_ticket_sold_twice(student, start_method):
    """no ticket sold twice: 20 buyer processes call buy() at once for 5 tickets"""
    r = student.run(sc.buy_race, BUYERS, TICKETS, WAIT, student.seed,
                    start_method=start_method, what="buy()")
    check_race(r, "buyers calling buy() at once")
    if r["unlocked"]:
        fail(f"latency() ran {r['unlocked']} time(s) while the lock passed to buy() was free: "
             f"hold that lock (not another one) around read, latency() and write.")
    if not r["lock_free"]:
        fail("the lock was still held after every buyer finished: release it on every path.")


@pytest.mark.points(3)
def test_sell(student, start_method):
    """sell() runs one process per buyer, sells each of 5 tickets once to 20 buyers"""
    r = student.run(sc.sell_race, BUYERS, TICKETS, WAIT, student.seed,
                    start_method=start_method, timeout=15, what="sell()")
    if r["stalled"]:
        how = (f"then none for {sc.STALL:g} s" if r["stalled"] == "stalled"
               else f"in {sc.LIMIT:g} s")
        fail(f"sell() got stuck: {r['calls']} of {BUYERS} buyers reached latency() {how} "
             f"({r['killed']} processes still running were killed). Is the lock released on "
             f"every path of buy(), and is every buyer process started and then joined?")
    if r["type"] != "dict":
        fail(f"sell() returned a {r['type']} ({r['result']}); expected a dict name -> bool.")
    result = r["result"]
    names = {f"buyer{i}" for i in range(BUYERS)}
    if set(result) != names:
        fail(f"sell() returned {len(result)} names; expected one entry for each of the "
             f"{BUYERS} buyers (missing: {sorted(names - set(result))[:3]}).")
    bad = [v for v in result.values() if type(v) is not bool]
    if bad:
        fail(f"sell() maps buyers to {bad[0]!r}; expected True or False.")
    sold = sum(v is True for v in result.values())
    remaining = (r["after"] or {}).get("ticket_num")
    if r["overlap"] or sold > TICKETS or remaining != 0:
        fail(f"sell() reported {sold} of {BUYERS} buyers with a ticket; {TICKETS} existed and "
             f"ticket_num is now {remaining!r}. Two buyer processes were inside latency() at "
             f"once: create ONE multiprocessing.Lock in sell() and pass it to every process "
             f"(a module-level lock is a different lock in each process under spawn).")
    if sold != TICKETS:
        fail(f"sell() reported {sold} buyers with a ticket, but {TICKETS} were sold: report "
             f"True exactly for the buyers whose buy() returned True.")
    if r["calls"] != BUYERS:
        fail(f"latency() was called {r['calls']} times for {BUYERS} buyers: sell() must pass "
             f"`latency` on to every buy(), which calls it once.")


def test_find_never_sees_a_half_written_file(student):
    """a find() running during buys never sees a half-written database (atomic writes)"""
    r = student.run(sc.find_while_buying, 10, student.seed, what="buy() with a concurrent find()")
    if r["n_bad"]:
        fail(f"{r['n_bad']} of {r['reads']} find() calls made during buys failed "
             f"({r['bad'][0]}): they read a half-written file. Write the new content to a "
             f"temporary file, then os.replace() it over the database.")
    if r["replaced"] != 10:
        fail(f"only {r['replaced']} of 10 buys replaced the database file; the others "
             f"rewrote it in place, which a concurrent find() can catch half-written. Write a "
             f"temporary file in the same folder, then os.replace() it over the database.")
    if not r["kept"] or r["left"] != 0:
        fail(f"after 10 buys of 10 tickets ticket_num is {r['left']!r} and the other keys "
             f"{'were kept' if r['kept'] else 'were lost'}.")
    if r["files"] != ["db.json"]:
        fail(f"buy() left files behind next to the database: {r['files']}.")


def test_defaults_and_failed_write(student):
    """sell() works with its default latency; a buy() whose write fails raises and frees the lock"""
    r = student.run(sc.defaults_and_failed_write, what="sell()/buy()")
    sold = r["sold"]
    if not isinstance(sold, dict) or sorted(sold) != ["ann", "bob", "cy"]:
        fail(f"sell(['ann', 'bob', 'cy'], db) with the default latency returned {sold!r}; "
             f"expected a dict with the three names.")
    if sorted(v is True for v in sold.values()) != [False, True, True] or r["after"] != 0:
        fail(f"sell() of 2 tickets to 3 buyers with the default latency returned {sold} and "
             f"left ticket_num {r['after']!r}; expected two True, one False and 0 left. Does "
             f"network_latency() just sleep a few milliseconds?")
    if r["raised"] is None:
        fail(f"buy() returned {r['returned']!r} although writing the database failed (it had "
             f"become a folder): a failed write must raise.")
    if not r["lock_free"]:
        fail(f"buy() raised {r['raised']} when its write failed and left the lock held: "
             f"release it on every path (`with lock:`).")


FAILING_BUYERS, FAILING_TICKETS = 4, 5  # one of them fails: 3 tickets sold, 2 left


def test_sell_failed_buyer(student):
    """sell() counts a buyer whose process fails as False and still names every buyer"""
    r = student.run(sc.sell_with_failing_buyer, FAILING_BUYERS, FAILING_TICKETS, 1,
                    what="sell()")
    who = (f"sell() of {FAILING_TICKETS} tickets to {FAILING_BUYERS} buyers, one of whose "
           f"buy() raised (the grader's latency raised ConnectionError in it, on purpose)")
    if r["stalled"]:
        fail(f"{who} did not return within {sc.LIMIT:g} s ({r['calls']} buyers reached "
             f"latency(); {r['killed']} processes still running were killed): a buyer process "
             f"that fails must not hold up the others; join every process and return.")
    if r["type"] != "dict":
        fail(f"{who} returned a {r['type']} ({r['result']}); expected a dict name -> bool.")
    if r["calls"] != FAILING_BUYERS:
        fail(f"latency() was called {r['calls']} times for {FAILING_BUYERS} buyers: sell() "
             f"must pass `latency` on to every buy(), which calls it once.")
    if r["left"] != FAILING_TICKETS - FAILING_BUYERS + 1:
        fail(f"after {who}, ticket_num is {r['left']!r}; expected "
             f"{FAILING_TICKETS - FAILING_BUYERS + 1}: the {FAILING_BUYERS - 1} other buyers "
             f"each bought one, and a buy() whose latency() raised changes nothing.")
    result = r["result"]
    names = [f"buyer{i}" for i in range(FAILING_BUYERS)]
    missing = [n for n in names if n not in result]
    if missing:
        fail(f"{who} returned no entry for {', '.join(missing)}: a buyer whose process fails "
             f"counts as False, and the dict names every buyer. Build the result from the "
             f"names you were given (e.g. False for a buyer that reported nothing, or decide "
             f"from each process's exitcode), not only from the buyers that reported back.")
    bad = [v for v in result.values() if type(v) is not bool]
    if bad:
        fail(f"{who} maps buyers to {bad[0]!r}; expected True or False.")
    sold = sum(v is True for v in result.values())
    if sold != FAILING_BUYERS - 1:
        fail(f"{who} reported {sold} buyers with a ticket, but {FAILING_BUYERS - 1} tickets "
             f"were sold: the failed buyer's process ended with an exception (exit code 1) and "
             f"counts as False. Report True only for a buyer whose buy() returned True (e.g. "
             f"exit code 0 after a normal return), not for every process that did not report "
             f"sold out.")
