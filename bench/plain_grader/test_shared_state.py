import shared_state


def test_count_with_threads():
    assert shared_state.count_with_threads(8, 1000) == 8000


def test_count_with_processes():
    assert shared_state.count_with_processes(4, 200) == 800
