import os
import subprocess
import sys
import time

import daemons

MAIN = """
import sys, time
import daemons

if __name__ == "__main__":
    p = daemons.start_guardian(time.sleep, 60)
    assert p.daemon and p.is_alive(), (p.daemon, p.is_alive())
    print(p.pid, flush=True)
"""


def test_start_guardian_returns_started_daemon():
    p = daemons.start_guardian(time.sleep, 0.2)
    assert p.daemon
    assert p.is_alive()
    p.join(5)
    assert p.exitcode == 0


def test_guardian_ends_with_main(tmp_path, impl):
    script = tmp_path / "main.py"
    script.write_text(MAIN)
    env = dict(os.environ, PYTHONPATH=str(impl))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=8, env=env)
    assert done.returncode == 0, done.stderr
    pid = int(done.stdout.split()[0])
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.01)
    else:
        raise AssertionError(f"the guardian {pid} outlived its main process")
