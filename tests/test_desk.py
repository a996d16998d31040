"""The desks (graders/desk.py): what the grader's side of a latency or an eat sees by itself,
with no grading in between: overlaps, the callers' processes as the kernel names them, and a
database that student code may have turned into something else."""

from __future__ import annotations

import multiprocessing
import os
import stat
import sys
import threading
import time

import pytest

from graders.desk import Booking, Dining
from graders.scenarios import common
from graders.scenarios import producer_consumer as sc_pc
from graders.scenarios import tickets as sc

posix_only = pytest.mark.skipif(os.name != "posix", reason="Unix sockets and fork")


def _buyer(address, wait: float) -> None:
    time.sleep(wait)
    sc.booking(address)


def _race(desk, waits: list[float]) -> list[int]:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_buyer, args=(desk.address, w)) for w in waits]
    for p in procs:
        p.start()
    for p in procs:
        p.join(10)
    assert all(p.exitcode == 0 for p in procs)
    return [p.pid for p in procs]


@posix_only
def test_two_callers_inside_at_once_are_an_overlap_seen_by_the_desk():
    with Booking({"ticket_num": 3}, hold=1.0) as desk:
        pids = _race(desk, [0.0, 0.1])  # the first is held: the second comes in meanwhile
        seen = desk.observed()
    assert seen["overlap"] and seen["calls"] == 2
    if sys.platform.startswith("linux"):  # the kernel's pids (SO_PEERCRED)
        assert sorted(c.pid for c in desk.calls) == sorted(pids)
    assert seen["processes"] == 2 and seen["found"] == [3, 3]


@posix_only
def test_calls_one_after_the_other_never_overlap_and_find_what_was_left():
    with Booking({"ticket_num": 2}) as desk:
        for left in (1, 0, 0):
            sc.booking(desk.address)
            with open(desk.db, "w") as f:  # as buy() writes back, before the next call
                f.write(f'{{"ticket_num": {left}}}')
        seen = desk.observed()
    assert not seen["overlap"] and seen["found"] == [2, 1, 0] and seen["remaining"] == 0
    assert seen["processes"] == 1


@posix_only
def test_the_desk_is_told_its_callers_flags_but_counts_on_its_own():
    with Booking({"ticket_num": 1}, fail_on=1) as desk:
        sc.booking(desk.address, multiprocessing.Lock())  # a free lock: the caller says so
        with pytest.raises(ConnectionError):
            sc.booking(desk.address)  # call number 1 is answered "raise"
        assert common.desk_count(desk.address) == 2
        seen = desk.observed()
    assert seen["unlocked"] == 1 and seen["calls"] == 2


@posix_only
def test_student_code_can_talk_to_a_desk_but_not_replace_it():
    with Booking({"ticket_num": 1}) as desk:
        folder = os.path.dirname(desk.address)
        mode = os.stat(folder).st_mode
        assert not mode & (stat.S_IWGRP | stat.S_IWOTH)  # nobody else unlinks the socket
        assert os.stat(desk.address).st_mode & stat.S_IWOTH  # everyone may connect
        assert os.stat(os.path.dirname(desk.db)).st_mode & stat.S_IWOTH  # buy() may replace


@posix_only
@pytest.mark.parametrize("planted", ["fifo", "symlink", "folder", "garbage"])
def test_a_database_turned_into_something_else_is_read_without_hanging(planted, tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text('{"ticket_num": 0}')
    with Booking({"ticket_num": 1}) as desk:
        os.unlink(desk.db)
        if planted == "fifo":
            os.mkfifo(desk.db)
        elif planted == "symlink":
            os.symlink(secret, desk.db)
        elif planted == "folder":
            os.mkdir(desk.db)
        else:
            with open(desk.db, "w") as f:
                f.write("{not json")
        box = {}
        t = threading.Thread(target=lambda: box.update(n=desk.ticket_num()), daemon=True)
        t.start()
        t.join(5)
        assert not t.is_alive(), "the desk waited on what student code planted"
    assert str(box["n"]).startswith("unreadable")


def _diner(address, items) -> None:
    for item in items:
        try:
            sc_pc.desk_eat(address, "diner", item)
        except sc_pc.BadBun:
            pass


@posix_only
def test_the_dining_desk_counts_meals_and_their_eaters():
    ctx = multiprocessing.get_context("fork")
    with Dining(0.001, bad=("b",)) as desk:
        common.ask_desk(desk.address, "caller")
        p = ctx.Process(target=_diner, args=(desk.address, ["a", "b", "c"]))
        p.start()
        p.join(10)
        common.ask_desk(desk.address, "mark")
        sc_pc.desk_eat(desk.address, "late", "d")  # after the mark: eaten later
        seen = desk.observed()
    assert [item for _name, _pid, item in seen["eaten"]] == ["a", "b", "c"]
    assert seen["eaten_later"] == 1
    if sys.platform.startswith("linux"):
        assert {pid for _name, pid, _item in seen["eaten"]} == {p.pid}
        assert seen["my_pid"] == os.getpid()


@posix_only
def test_the_held_bun_waits_for_the_kitchen_to_join_its_queue():
    with Dining(hold="x", hold_max=5.0) as desk:
        box = {}
        t = threading.Thread(target=lambda: box.update(
            done=sc_pc.desk_eat(desk.address, "diner", "x") or time.monotonic()), daemon=True)
        t.start()
        sc_pc.desk_eat(desk.address, "diner", "y")  # any other item is eaten at once
        time.sleep(0.3)
        assert t.is_alive(), "the held bun was eaten before kitchen() joined its queue"
        marked = time.monotonic()
        common.ask_desk(desk.address, "mark", ["joining"])
        t.join(5)
        assert not t.is_alive() and box["done"] >= marked


def _asks_for_exchange(address, port, inherited: int) -> None:
    """A grading child's scenario: its own server listening (port None), or a port it names
    (the grader's: a spawned child has no copy of the grader's socket, a forked one closes it)."""
    import socket

    os.close(inherited)

    with socket.create_server(("127.0.0.1", 0)) as mine:
        common.ask_desk(address, "call", ["exchange", port or mine.getsockname()[1], False])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's socket table")
@pytest.mark.parametrize("whose", ["the caller's", "the grader's"])
def test_the_crowd_connects_only_to_a_port_its_caller_listens_on(whose):
    import socket

    from graders.desk import Crowd

    asked = []
    with socket.create_server(("127.0.0.1", 0)) as graders_own, \
            Crowd(lambda port, spinning: (asked.append(port) or {"refused": 0}, []), 7) as desk:
        port = graders_own.getsockname()[1] if whose == "the grader's" else None
        p = multiprocessing.get_context("fork").Process(target=_asks_for_exchange,
                                                        args=(desk.address, port,
                                                              graders_own.fileno()))
        p.start()
        p.join(10)
        seen = desk.observed()
    if whose == "the caller's":
        assert len(asked) == 1 and seen == {"refused": 0}
    else:  # a server the child does not hold: no client connects, all count as refused
        assert asked == [] and seen["refused"] == 7 and seen["not_theirs"] == port
