"""Scenarios for tickets.py: the ticket office (a mutex lock between processes)."""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import random
import tempfile
import threading
import time

from graders._mark import N_
from graders.scenarios import common

BIG_SIZE = 2_000_000  # an extra key that every write keeps: makes a torn write easy to see


SCALE = float(os.environ.get("GRADER_TIMEOUT_SCALE", "1"))
STALL = 3.0 * SCALE  # seconds without a single buy finishing: the buyers are stuck
LIMIT = 12.0 * SCALE  # seconds for a whole race, stuck or not
SETTLE = 0.05 * SCALE  # seconds a lock-free buyer gets to reach latency() once all are in buy()
# seconds every process and thread of the student's may sleep without once waking before the
# race counts as deadlocked (common.Stillness): in a correct race some buyer always holds
# the lock and wakes from its latency within milliseconds (the grader's nap at most 3 ms,
# the failing buyers' 1 ms), so still for this long is a lock nobody will release
STILL = 0.5 * SCALE
GRACE = 0.1 * SCALE  # seconds a lock gets to be free once every buy() that took it returned
# seconds the first buyer of sell() waits, at most, for every other buyer to be started and
# asleep on the lock (rendezvous); with the first wait under STALL, no progress for a while
ASSEMBLE = 1.5 * SCALE

# ------------------------------------------------------------------ latencies handed to buy()


def _claim(folder: str, prefix: str) -> int:
    """Atomically take the next free number n for `<prefix>-<n>` in `folder`."""
    n = 0
    while True:
        try:
            os.close(os.open(os.path.join(folder, f"{prefix}-{n}"), os.O_CREAT | os.O_EXCL))
            return n
        except FileExistsError:
            n += 1


def rendezvous(folder: str, wait: float, seed: int, lock=None, expect: int = 0,
               buyers: int = 0) -> None:
    """A latency that proves mutual exclusion or its absence, across processes.

    Counts its calls (files call-N) and the process each ran in (files pid-N-<pid>: which
    process a buy() ran in, seen by the grader). The first caller waits up to `wait` s for a second
    buyer to reach latency() too: with the lock held around read-latency-write that never
    happens; without it the second buyer gets in, has read the same ticket_num, and both
    write back the same value. Any two callers inside at once leave a file `overlap`.
    With `lock`, also records a call made while the lock was not held. When the grader's
    own buyers mark `entered-*` files as they call buy(), `expect` of them, the wait ends
    SETTLE s after all have entered: a lock-free buyer reads a small file far sooner.
    With `buyers` (sell()'s, which the student's code starts), the first caller, when no
    second one came in, then waits until the other buyers' processes are all there and asleep,
    having called find(), waiting for the lock (_others_asleep, at most ASSEMBLE s): no find()
    of a late buyer reads the file while a buyer writes it, which only
    test_find_never_sees_a_half_written_file judges (with 30 buyers under forkserver, a late
    one's find() met an in-place write now and then, and that buyer failed).
    """
    n = _claim(folder, "call")
    open(os.path.join(folder, f"pid-{n}-{os.getpid()}"), "w").close()
    me = os.path.join(folder, f"in-{n}")
    open(me, "w").close()
    if any(f.startswith("in-") and f != f"in-{n}" for f in os.listdir(folder)):
        open(os.path.join(folder, "overlap"), "w").close()
    if lock is not None and lock.acquire(False):
        lock.release()
        open(os.path.join(folder, f"unlocked-{n}"), "w").close()
    if n == 0:
        deadline = time.monotonic() + wait
        settled = expect == 0
        while time.monotonic() < deadline:
            if os.path.exists(os.path.join(folder, "call-1")):
                open(os.path.join(folder, "overlap"), "w").close()
                break
            if not settled and sum(f.startswith("entered-") for f in os.listdir(folder)) >= expect:
                settled, deadline = True, min(deadline, time.monotonic() + SETTLE)
            time.sleep(0.002)
        if buyers and not os.path.exists(os.path.join(folder, "overlap")):
            _others_asleep(ASSEMBLE, at_least=buyers - 1)
    else:
        time.sleep(random.Random(seed * 1000 + n).uniform(0.0005, 0.003))
    os.unlink(me)


def raising_latency() -> None:
    raise ConnectionError(N_("the booking system is down (raised by the grader's latency)"))


def failing_on_call(folder: str, failing: int) -> None:
    """A latency that raises on its call number `failing` (from 0) and sleeps 1 ms on the
    others; the calls are counted across processes (files call-N in `folder`). Before it
    returns (and its buyer writes the database), the other buyers have all gone to sleep
    (_others_asleep): test_sell_failed_buyer judges the failing buyer alone, and no find()
    of theirs reads the file meanwhile, which test_find_never_sees_a_half_written_file
    judges (a write in place would otherwise make a buyer fail here now and then)."""
    if _claim(folder, "call") == failing:
        raise ConnectionError(N_("the booking system is down for this buyer (raised by the "
                                 "grader's latency, on purpose)"))
    time.sleep(0.001)
    _others_asleep(2.0 * SCALE)


def _others_asleep(limit: float, at_least: int = 0) -> None:
    """Wait, at most `limit` s, until every other process of this one's parent (the buyers
    sell() started, which wait for the lock this buyer holds), at least `at_least` of them,
    sleeps or has ended, each of its threads, as Linux's /proc shows them (multiprocessing's
    resource tracker and forkserver are not buyers); elsewhere return at once."""
    from graders._child import children_of

    me, parent = os.getpid(), os.getppid()
    if children_of(me) is None:
        return
    deadline, before = time.monotonic() + limit, None
    while time.monotonic() < deadline:
        seen, buyers = [], 0  # each thread's state and context switches: asleep twice alike
        for kid in children_of(parent) or []:
            try:
                if kid == me or _helper(kid, parent):
                    continue
                buyers += 1
                for task in os.listdir(f"/proc/{kid}/task"):
                    with open(f"/proc/{kid}/task/{task}/status") as f:
                        seen.append(tuple(line for line in f if line.startswith(
                            ("State:", "voluntary_ctxt", "nonvoluntary_ctxt"))))
            except OSError:
                continue  # ended meanwhile
        if buyers >= at_least and all(fields[0].split()[1] in ("S", "Z")
                                      for fields in seen if fields):
            if seen == before:
                return
            before = seen
        else:
            before = None
        time.sleep(0.01)


def _helper(pid: int, parent: int) -> bool:
    """Whether `pid` is multiprocessing's resource tracker or forkserver, not a buyer (a buyer
    forked by the forkserver shows the forkserver's command line: its parent's)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            line = f.read()
        with open(f"/proc/{parent}/cmdline", "rb") as f:
            theirs = f.read()
    except OSError:
        return False
    return line != theirs and (b"resource_tracker import main" in line
                               or b"forkserver import main" in line)


def _observed(folder: str, caller: int | None = None) -> dict:
    """What the latency saw; with `caller` (the pid that called sell()), also how many
    processes the calls ran in and how many ran in the caller itself."""
    names = os.listdir(folder)
    out = {
        "calls": sum(n.startswith("call-") for n in names),
        "overlap": "overlap" in names,
        "unlocked": sum(n.startswith("unlocked-") for n in names),
    }
    if caller is not None:
        pids = [int(n.rsplit("-", 1)[1]) for n in names if n.startswith("pid-")]
        out["processes"] = len(set(pids))
        out["in_caller"] = pids.count(caller)
    return out


# ------------------------------------------------------------------------------ helpers


def _make_db(folder: str, content) -> str:
    db = os.path.join(folder, "db.json")
    with open(db, "w", encoding="utf-8") as f:
        f.write(content if isinstance(content, str) else json.dumps(content))
    return db


def _read(db: str):
    with open(db, encoding="utf-8") as f:
        return json.load(f)


def _lock_free(lock) -> bool:
    """Called once every buy() that could hold the lock has returned or ended: nothing is
    left that could release it later, so it is free at once or never (GRACE for the
    release in flight)."""
    if lock.acquire(timeout=GRACE):
        lock.release()
        return True
    return False


def _ticket_num(db: str):
    try:
        return _read(db).get("ticket_num")
    except Exception as e:  # noqa: BLE001 - reported to the student as what was found
        return f"unreadable ({type(e).__name__}: {e})"


# ---------------------------------------------------------------------------- scenarios


def basics(seed: int) -> dict:
    """One process: find, buy until sold out, other keys kept, latency and lock use."""
    import tickets

    folder = tempfile.mkdtemp(dir=".")
    calls = tempfile.mkdtemp(dir=".")
    db = _make_db(folder, {"ticket_num": 2, "event": "concert", "seats": [1, 2, 3]})
    lock = multiprocessing.Lock()
    latency = functools.partial(rendezvous, calls, 0.0, seed, lock)
    out = {"find": common.plain(tickets.find("ann", db))}
    out["buys"] = [common.plain(tickets.buy(name, db, lock, latency))
                   for name in ("ann", "bob", "cy")]
    out["after"] = _read(db)
    out["lock_free"] = _lock_free(lock)
    out["find_after"] = common.plain(tickets.find("dan", db))
    out.update(_observed(calls))
    return out


BAD_DATABASES = {  # what is wrong with it (N_: translated where the grader shows it) -> content
    N_("missing file"): None,
    N_("not JSON"): "{ticket_num: 3",
    N_("a JSON list, not an object"): "[3]",
    N_("no ticket_num key"): {"tickets": 3},
    N_("ticket_num is a string"): {"ticket_num": "3"},
    N_("ticket_num is negative"): {"ticket_num": -1},
    N_("ticket_num is true"): {"ticket_num": True},
    N_("ticket_num is a float"): {"ticket_num": 2.5},
}


def _bad_buy(kind: str) -> dict:
    """buy() on one missing or corrupt database: must raise, change nothing, free the lock."""
    import tickets

    folder = tempfile.mkdtemp(dir=".")
    content = BAD_DATABASES.get(kind)
    if kind == "latency raises":
        db = _make_db(folder, {"ticket_num": 3})
        latency = raising_latency
    elif content is None:
        db = os.path.join(folder, "db.json")
        latency = functools.partial(time.sleep, 0.001)
    else:
        db = _make_db(folder, content)
        latency = functools.partial(time.sleep, 0.001)

    def snapshot():
        return sorted(os.listdir(folder)), (open(db, "rb").read() if os.path.exists(db) else None)

    before = snapshot()
    lock = multiprocessing.Lock()
    box: dict = {}

    def attempt():
        try:
            box["returned"] = repr(common.plain(tickets.buy("ann", db, lock, latency)))
        except Exception as e:  # noqa: BLE001 - raising is what the contract asks for
            box["raised"] = type(e).__name__

    t = threading.Thread(target=attempt, daemon=True)
    t.start()
    t.join(5)
    after = snapshot()
    return {
        "kind": kind,
        "hung": t.is_alive(),
        "raised": box.get("raised"),
        "returned": box.get("returned"),
        "unchanged": before == after,
        "files_after": after[0],
        "lock_free": (not t.is_alive()) and _lock_free(lock),
    }


def bad_databases() -> list[dict]:
    """Every kind of bad database, plus a latency() that raises, one after the other."""
    return [_bad_buy(kind) for kind in [*BAD_DATABASES, "latency raises"]]


def _bad_find(kind: str) -> dict:
    """find() on one missing or corrupt database: must raise (it returns a number of
    tickets, which such a database does not hold) and change nothing."""
    import tickets

    folder = tempfile.mkdtemp(dir=".")
    content = BAD_DATABASES[kind]
    db = os.path.join(folder, "db.json") if content is None else _make_db(folder, content)

    def snapshot():
        return sorted(os.listdir(folder)), (open(db, "rb").read() if os.path.exists(db) else None)

    before = snapshot()
    box: dict = {}

    def attempt():
        try:
            found = tickets.find("ann", db)
            box["returned"] = repr(common.plain(found))
            box["type"] = type(found).__name__
        except Exception as e:  # noqa: BLE001 - raising is what the contract asks for
            box["raised"] = type(e).__name__

    t = threading.Thread(target=attempt, daemon=True)
    t.start()
    t.join(5)
    after = snapshot()
    return {
        "kind": kind,
        "hung": t.is_alive(),
        "raised": box.get("raised"),
        "returned": box.get("returned"),
        "type": box.get("type"),
        "unchanged": before == after,
        "files_after": after[0],
    }


def find_bad_databases() -> list[dict]:
    """find() on every kind of bad database, one after the other."""
    return [_bad_find(kind) for kind in BAD_DATABASES]


def find_during_buy(seed: int) -> dict:
    """find() while another buyer is inside buy(): it must not wait for the lock."""
    import tickets

    folder = tempfile.mkdtemp(dir=".")
    db = _make_db(folder, {"ticket_num": 4})
    lock = multiprocessing.Lock()
    inside, release = threading.Event(), threading.Event()

    def slow_latency():
        inside.set()
        release.wait(5)

    buyer = threading.Thread(target=tickets.buy, args=("ann", db, lock, slow_latency),
                             daemon=True)
    buyer.start()
    got_inside = inside.wait(5)
    box: dict = {}
    finder = threading.Thread(target=lambda: box.update(found=tickets.find("bob", db)),
                              daemon=True)
    finder.start()
    finder.join(2)
    blocked = finder.is_alive()
    release.set()
    buyer.join(5)
    finder.join(5)
    return {"reached_latency": got_inside, "find_blocked": blocked,
            "found": common.plain(box.get("found"))}


def _buyer(name: str, db: str, lock, barrier, latency, results: str, calls: str) -> None:
    """A buyer process of the grader: meet the others at the barrier, then buy()."""
    import tickets

    barrier.wait()
    open(os.path.join(calls, f"entered-{name}"), "w").close()
    try:
        got = tickets.buy(name, db, lock, latency)
        text = "True" if got is True else "False" if got is False else \
            f"returned {common.plain(got)!r}"
    except BaseException as e:  # noqa: BLE001 - reported to the student
        text = f"raised {type(e).__name__}: {e}"
    with open(os.path.join(results, name), "w") as f:
        f.write(text)


def buy_race(n_buyers: int, n_tickets: int, wait: float, seed: int) -> dict:
    """n buyer processes, started through a barrier, each calling buy() with one shared lock."""
    folder = tempfile.mkdtemp(dir=".")
    calls = tempfile.mkdtemp(dir=".")
    results = tempfile.mkdtemp(dir=".")
    db = _make_db(folder, {"ticket_num": n_tickets})
    lock = multiprocessing.Lock()
    barrier = multiprocessing.Barrier(n_buyers)
    latency = functools.partial(rendezvous, calls, wait, seed, lock, n_buyers)
    processes = [
        (f"buyer{i}", multiprocessing.Process(
            target=_buyer, args=(f"buyer{i}", db, lock, barrier, latency, results, calls)))
        for i in range(n_buyers)
    ]
    for _, p in processes:
        p.start()
    stall = common.wait_for_progress(
        done=lambda: not any(p.is_alive() for _, p in processes),
        progress=lambda: len(os.listdir(results)), stall=STALL, limit=LIMIT,
        still=common.Stillness(STILL))
    stuck = [name for name, p in processes if p.is_alive()] if stall else []
    common.kill_children()
    for _, p in processes:
        p.join()
    answers = {}
    for name, _ in processes:
        path = os.path.join(results, name)
        answers[name] = open(path).read() if os.path.exists(path) else "no answer"
    return {
        "answers": answers,
        "stuck": stuck,
        "quiet": STILL if stall == "deadlocked" else STALL,  # s no buyer finished
        "remaining": _ticket_num(db),
        "lock_free": _lock_free(lock),
        **_observed(calls),
    }


def sell_race(n_buyers: int, n_tickets: int, wait: float, seed: int) -> dict:
    """The student's sell(): one process per buyer, with the grader's latency."""
    import tickets

    folder = tempfile.mkdtemp(dir=".")
    calls = tempfile.mkdtemp(dir=".")
    db = _make_db(folder, {"ticket_num": n_tickets, "venue": "hall"})
    names = [f"buyer{i}" for i in range(n_buyers)]
    latency = functools.partial(rendezvous, calls, wait, seed, buyers=n_buyers)
    box: dict = {}

    def call_sell():
        try:
            box["result"] = tickets.sell(names, db, latency)
        except BaseException as e:  # noqa: BLE001 - handed back to the harness below
            box["error"] = e

    seller = threading.Thread(target=call_sell, daemon=True)
    seller.start()
    stall = common.wait_for_progress(
        done=lambda: not seller.is_alive(),
        progress=lambda: sum(n.startswith("call-") for n in os.listdir(calls)),
        stall=STALL, limit=LIMIT, still=common.Stillness(STILL))
    if stall:
        observed = _observed(calls)
        killed = common.kill_children()
        seller.join(5)
        return {"stalled": stall, "killed": len(killed), **observed}
    if "error" in box:
        raise box["error"]
    result = box["result"]
    after = _read(db) if os.path.exists(db) else None
    return {
        "stalled": "",
        "type": type(result).__name__,
        "result": common.plain(result) if type(result) is dict else str(common.plain(result)),
        "after": after,
        **_observed(calls, caller=os.getpid()),  # this process called sell()
    }


def _reader(db: str, stop, errors: str) -> None:
    """A process that calls find() as fast as it can, recording what it could not read."""
    import tickets

    bad, reads = [], 0
    while not stop.is_set():
        reads += 1
        try:
            tickets.find("reader", db)
        except Exception as e:  # noqa: BLE001 - a torn read is the finding
            bad.append(f"{type(e).__name__}: {str(e)[:80]}")
    with open(errors, "w") as f:
        json.dump({"reads": reads, "bad": bad[:5], "n_bad": len(bad)}, f)


def find_while_buying(n_buys: int, seed: int) -> dict:
    """Buys in this process while a reader process calls find(): no torn reads, new inode."""
    import tickets

    folder = tempfile.mkdtemp(dir=".")
    db = _make_db(folder, {"ticket_num": n_buys, "log": "x" * BIG_SIZE})
    inode = os.stat(db).st_ino
    lock = multiprocessing.Lock()
    stop = multiprocessing.Event()
    errors = os.path.join(tempfile.mkdtemp(dir="."), "errors.json")
    reader = multiprocessing.Process(target=_reader, args=(db, stop, errors))
    reader.start()
    time.sleep(0.05)
    replaced = 0
    for i in range(n_buys):
        tickets.buy(f"buyer{i}", db, lock, functools.partial(time.sleep, 0.001))
        now = os.stat(db).st_ino
        replaced += now != inode
        inode = now
    stop.set()
    reader.join(10)
    if reader.is_alive():
        reader.kill()
        reader.join()
    seen = json.load(open(errors)) if os.path.exists(errors) else {"reads": 0, "bad": ["none"]}
    data = _read(db)
    return {
        **seen,
        "replaced": replaced,
        "left": data.get("ticket_num"),
        "kept": data.get("log") == "x" * BIG_SIZE,
        "files": sorted(os.listdir(folder)),
    }


def _db_becomes_a_folder(db: str) -> None:
    """A latency during which the database is replaced by a folder, so the write must fail."""
    os.unlink(db)
    os.mkdir(db)


def _time_network_latency(limit: float) -> list[float]:
    """How long calls of the default network_latency() take: up to 3 calls, stopping as soon
    as 2 agree on being under `limit` s or over it (the median of 3, without waiting out a
    third slow call)."""
    import tickets

    seconds: list[float] = []
    while len(seconds) < 3:
        started = time.perf_counter()
        tickets.network_latency()
        seconds.append(round(time.perf_counter() - started, 4))
        slow = sum(s > limit for s in seconds)
        if slow >= 2 or len(seconds) - slow >= 2:
            break
    return seconds


def defaults_and_failed_write(latency_limit: float) -> dict:
    """The default network_latency() timed; sell() with its default latency; and a buy()
    whose write fails. A slow network_latency() ends it early (sell() would be slow too)."""
    import tickets

    seconds = _time_network_latency(latency_limit)
    if sorted(seconds)[len(seconds) // 2] > latency_limit:
        return {"latency_seconds": seconds}
    folder = tempfile.mkdtemp(dir=".")
    db = _make_db(folder, {"ticket_num": 2})
    result = tickets.sell(["ann", "bob", "cy"], db)
    sold = common.plain(result) if type(result) is dict else str(common.plain(result))
    after = _ticket_num(db)

    db2 = _make_db(tempfile.mkdtemp(dir="."), {"ticket_num": 2})
    lock = multiprocessing.Lock()
    try:
        got = common.plain(tickets.buy("dan", db2, lock, functools.partial(_db_becomes_a_folder,
                                                                          db2)))
        raised = None
    except Exception as e:  # noqa: BLE001 - raising is what is expected
        got, raised = None, type(e).__name__
    return {"latency_seconds": seconds, "sold": sold, "after": after, "raised": raised,
            "returned": got, "lock_free": _lock_free(lock)}


def sell_with_failing_buyer(n_buyers: int, n_tickets: int, failing: int) -> dict:
    """sell() whose latency raises in one buyer's buy(): that buyer's process fails."""
    import tickets

    folder = tempfile.mkdtemp(dir=".")
    calls = tempfile.mkdtemp(dir=".")
    db = _make_db(folder, {"ticket_num": n_tickets})
    names = [f"buyer{i}" for i in range(n_buyers)]
    box: dict = {}

    def call_sell():
        try:
            box["result"] = tickets.sell(names, db, functools.partial(failing_on_call, calls,
                                                                      failing))
        except BaseException as e:  # noqa: BLE001 - handed back to the harness below
            box["error"] = e

    seller = threading.Thread(target=call_sell, daemon=True)
    seller.start()
    # LIMIT, or less once all of the student's processes and threads are seen still (no
    # progress stall here: a buyer only reaches latency() once its process has started)
    stall = common.wait_for_progress(done=lambda: not seller.is_alive(), progress=lambda: 0,
                                     stall=LIMIT, limit=LIMIT, still=common.Stillness(STILL))
    if stall:
        observed = _observed(calls)
        killed = common.kill_children()
        seller.join(5)
        return {"stalled": stall, "killed": len(killed), **observed}
    if "error" in box:
        raise box["error"]
    result = box["result"]
    return {
        "stalled": "",
        "type": type(result).__name__,
        "result": common.plain(result) if type(result) is dict else str(common.plain(result)),
        "left": _ticket_num(db),
        **_observed(calls),
    }
