"""ALTERNATIVE: processes from multiprocessing.get_context(), waited for through their sentinels
with multiprocessing.connection.wait before joining; in orphan() G itself sends its pid as a
struct over the pipe, the caller reaps C first and reads afterwards, and G writes the report
with os.open(O_EXCL) on a temporary name + os.rename.

Zombie and orphan processes (course notes, section 1), written as another student could.
"""

import multiprocessing
import os
import struct
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import wait

_PID = struct.Struct("!q")
_PATIENCE = 5.0  # seconds G waits to be re-parented
_TICK = 0.01


def run_children(targets: Sequence[Callable[[], object]]) -> list[int]:
    """Run every target in its own process at the same time; reap all; return exit codes."""
    ctx = multiprocessing.get_context()
    children = []
    try:
        for target in targets:
            child = ctx.Process(target=target)
            child.start()
            children.append(child)
        pending = {child.sentinel: child for child in children}
        while pending:  # collect them in whatever order they finish
            for ready in wait(list(pending)):
                pending.pop(ready).join()
    finally:
        for child in children:  # reaps every child, also when something above failed
            child.join()
    return [child.exitcode for child in children]


def _report(path: str, text: str) -> None:
    """Readers of ``path`` see all of ``text`` or no file at all."""
    path = os.path.abspath(path)
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        data = text.encode()
        while data:
            data = data[os.write(fd, data):]
    finally:
        os.close(fd)
    os.rename(tmp, path)


def _grandchild(c_pid: int, report: str, pipe: int) -> int:
    """G: tell the caller our pid, wait to be orphaned (polling, at most 5 s), report."""
    os.write(pipe, _PID.pack(os.getpid()))
    os.close(pipe)
    deadline = time.monotonic() + _PATIENCE
    while os.getppid() == c_pid:
        if time.monotonic() >= deadline:
            return 1
        time.sleep(_TICK)
    _report(report, f"{os.getpid()} {os.getppid()}")
    return 0


def orphan(report: str) -> int:
    """Make an orphan by a double fork; return its pid (POSIX only)."""
    r, w = os.pipe()
    c_pid = os.fork()
    if c_pid == 0:
        # C: fork G and leave at once. Neither C nor G ever returns into the caller's code.
        status = 1
        try:
            os.close(r)
            c_self = os.getpid()
            if os.fork() == 0:
                g_status = 2
                try:
                    g_status = _grandchild(c_self, report, w)
                finally:
                    os._exit(g_status)
            status = 0
        finally:
            os._exit(status)

    os.close(w)
    try:
        os.waitpid(c_pid, 0)  # C exits at once: reap it, then read what G sent
        data = b""
        while len(data) < _PID.size:
            chunk = os.read(r, _PID.size - len(data))
            if not chunk:
                break
            data += chunk
    finally:
        os.close(r)
    if len(data) != _PID.size:
        raise OSError("the grandchild never announced itself (did C fail to fork?)")
    return _PID.unpack(data)[0]
