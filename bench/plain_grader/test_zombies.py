import os
import signal
import sys
import time

import pytest
import zombies


def returns():
    time.sleep(0.05)


def raises():
    raise ValueError("on purpose")


def exits_3():
    sys.exit(3)


def os_exits_7():
    os._exit(7)


def killed():
    os.kill(os.getpid(), signal.SIGKILL)


def no_child_left() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)  # (0, 0): one still running; (pid, status): a zombie
    except ChildProcessError:
        return True
    return False


def test_run_children_exit_codes():
    codes = zombies.run_children([returns, raises, exits_3, os_exits_7, killed])
    assert codes == [0, 1, 3, 7, -signal.SIGKILL]
    assert no_child_left()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_orphan_reports(tmp_path):
    report = tmp_path / "report.txt"
    g = zombies.orphan(str(report))
    assert isinstance(g, int) and g > 0
    assert no_child_left()  # C was reaped
    deadline = time.monotonic() + 6
    while not report.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    pid, parent = map(int, report.read_text().split())
    assert pid == g
    assert parent != os.getpid()
