"""Scenarios for tickets.py: the ticket office (a mutex lock between processes)."""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
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
# seconds the desk holds the first buyer of sell(), at most, for every other buyer to be
# started and asleep on the lock (graders/desk.py); with the first wait under STALL, no
# progress for a while
ASSEMBLE = 1.5 * SCALE

# ------------------------------------------------------------------ latencies handed to buy()


def booking(address, lock=None) -> None:
    """The grader's latency: a round trip to the grader's booking desk, whose other end is the
    grader's own process. It answers when it decides (holding the first buyer, napping the
    others) and notes the call from its side. With `lock` (the one passed to buy()), the call
    also says whether that lock was free, testimony the desk labels so."""
    unlocked = False
    if lock is not None and lock.acquire(False):
        lock.release()
        unlocked = True
    answer = common.ask_desk(address, "call", [unlocked], LIMIT)
    if answer == b"raise":
        raise ConnectionError(N_("the booking system is down for this buyer (raised by the "
                                 "grader's latency, on purpose)"))
    if answer != b"go":
        raise ConnectionError("the grader's booking desk did not answer")


def raising_latency() -> None:
    raise ConnectionError(N_("the booking system is down (raised by the grader's latency)"))


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


def basics(address, db: str) -> dict:
    """One process: find, buy until sold out, other keys kept, latency and lock use (the
    database, the latency's calls and what each found are the desk's: graders/desk.py)."""
    import tickets

    lock = multiprocessing.Lock()
    latency = functools.partial(booking, address, lock)
    out = {"find": common.plain(tickets.find("ann", db))}
    out["buys"] = [common.plain(tickets.buy(name, db, lock, latency))
                   for name in ("ann", "bob", "cy")]
    out["lock_free"] = _lock_free(lock)
    out["find_after"] = common.plain(tickets.find("dan", db))
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


def _buyer(name: str, db: str, lock, barrier, address, results: str) -> None:
    """A buyer process of the grader: meet the others at the barrier, tell the desk, then
    buy()."""
    import tickets

    barrier.wait()
    latency = functools.partial(booking, address, lock)
    common.ask_desk(address, "enter", limit=1.0)
    try:
        got = tickets.buy(name, db, lock, latency)
        text = "True" if got is True else "False" if got is False else \
            f"returned {common.plain(got)!r}"
    except BaseException as e:  # noqa: BLE001 - reported to the student
        text = f"raised {type(e).__name__}: {e}"
    with open(os.path.join(results, name), "w") as f:
        f.write(text)


def buy_race(address, db: str, n_buyers: int) -> dict:
    """n buyer processes, started through a barrier, each calling buy() with one shared lock;
    the latency is the desk's (it holds the first buyer until a second comes in or all have
    entered buy(), and sees every overlap itself)."""
    results = tempfile.mkdtemp(dir=".")
    lock = multiprocessing.Lock()
    barrier = multiprocessing.Barrier(n_buyers)
    processes = [
        (f"buyer{i}", multiprocessing.Process(
            target=_buyer, args=(f"buyer{i}", db, lock, barrier, address, results)))
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
        "lock_free": _lock_free(lock),
    }


def sell_race(address, db: str, n_buyers: int) -> dict:
    """The student's sell(): one process per buyer, with the desk's latency (which also learns
    this process's id first, from the kernel: a buy() that runs in it is no process of its
    own). It says so before student code is imported: the desk keeps the first caller."""
    common.ask_desk(address, "caller", limit=1.0)
    import tickets

    names = [f"buyer{i}" for i in range(n_buyers)]
    latency = functools.partial(booking, address)
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
        progress=common.DeskProgress(address),
        stall=STALL, limit=LIMIT, still=common.Stillness(STILL))
    if stall:
        killed = common.kill_children()
        seller.join(5)
        return {"stalled": stall, "killed": len(killed)}
    if "error" in box:
        raise box["error"]
    result = box["result"]
    return {
        "stalled": "",
        "type": type(result).__name__,
        "result": common.plain(result) if type(result) is dict else str(common.plain(result)),
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


def sell_with_failing_buyer(address, db: str, n_buyers: int) -> dict:
    """sell() whose latency raises in one buyer's buy() (the desk answers that call "raise"):
    that buyer's process fails."""
    import tickets

    names = [f"buyer{i}" for i in range(n_buyers)]
    box: dict = {}

    def call_sell():
        try:
            box["result"] = tickets.sell(names, db, functools.partial(booking, address))
        except BaseException as e:  # noqa: BLE001 - handed back to the harness below
            box["error"] = e

    seller = threading.Thread(target=call_sell, daemon=True)
    seller.start()
    # LIMIT, or less once all of the student's processes and threads are seen still (no
    # progress stall here: a buyer only reaches latency() once its process has started)
    stall = common.wait_for_progress(done=lambda: not seller.is_alive(), progress=lambda: 0,
                                     stall=LIMIT, limit=LIMIT, still=common.Stillness(STILL))
    if stall:
        killed = common.kill_children()
        seller.join(5)
        return {"stalled": stall, "killed": len(killed)}
    if "error" in box:
        raise box["error"]
    result = box["result"]
    return {
        "stalled": "",
        "type": type(result).__name__,
        "result": common.plain(result) if type(result) is dict else str(common.plain(result)),
    }
