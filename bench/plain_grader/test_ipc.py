import ipc


def test_transfer_in_order():
    items = ["first", None, "DONE", 0, ("item", 1), b"", "last"]
    assert ipc.transfer(items) == items


def test_transfer_big_item():
    big = b"x" * 8_000_000
    assert ipc.transfer([big]) == [big]


def test_transfer_many_items():
    assert ipc.transfer(list(range(20_000))) == list(range(20_000))
