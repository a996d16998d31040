import json
import multiprocessing
import time

import pytest
import tickets


def no_latency():
    pass


def short_latency():
    time.sleep(0.005)


def make_db(tmp_path, content) -> str:
    db = tmp_path / "db.json"
    db.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(db)


def test_find(tmp_path):
    assert tickets.find("ann", make_db(tmp_path, {"ticket_num": 3})) == 3


def test_buy_until_sold_out(tmp_path):
    db = make_db(tmp_path, {"ticket_num": 2, "event": "concert"})
    lock = multiprocessing.Lock()
    assert [tickets.buy(name, db, lock, no_latency) for name in "abc"] == [True, True, False]
    assert json.load(open(db)) == {"ticket_num": 0, "event": "concert"}
    assert lock.acquire(timeout=1)


@pytest.mark.parametrize("content", ["{not json", "[3]", {"tickets": 3}, {"ticket_num": -1}])
def test_bad_database_raises(tmp_path, content):
    db = make_db(tmp_path, content)
    lock = multiprocessing.Lock()
    with pytest.raises(Exception):  # noqa: B017 - the contract says "raises an exception"
        tickets.buy("ann", db, lock, no_latency)
    assert lock.acquire(timeout=1)


def test_sell_sells_each_ticket_once(tmp_path):
    db = make_db(tmp_path, {"ticket_num": 3})
    names = [f"buyer{i}" for i in range(10)]
    result = tickets.sell(names, db, short_latency)
    assert sorted(result) == sorted(names)
    assert sum(v is True for v in result.values()) == 3
    assert tickets.find("me", db) == 0
