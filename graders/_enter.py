"""Containment inside the grading child: the part of graders/contain.py that runs there.

Every grading child imports this module before anything else of the graders, so it imports
only `os` (and `ctypes` when it has folders to mount): contain.py, which plans the
containment in the grading process, needs far more (dataclasses, subprocess, pathlib ...)
than a child should pay for at each start.
"""

from __future__ import annotations

import os


def enter(p: dict) -> None:
    """In the grading child, still root, PID 1 of its namespaces: make the closed folders that
    grading needs enterable (in this mount namespace only). (It was born in the grading
    process's cgroup: contain.join_cgroup.)"""
    if p.get("expose"):
        _expose(p["expose"])


def _stage() -> str:
    """A new empty folder, private to root, where the bound folders wait to be moved."""
    tried = []
    for where in (os.environ.get("TMPDIR"), "/tmp", "/var/tmp", "/usr/tmp", os.getcwd()):
        if not where:
            continue
        for _attempt in range(10):
            path = os.path.join(where, f"mounts-{os.urandom(6).hex()}")
            try:
                os.mkdir(path, 0o700)
                return path
            except FileExistsError:
                continue
            except OSError as e:
                tried.append(f"{where}: {e}")
                break
    raise OSError(f"no folder to stage the mounts in ({'; '.join(tried)})")


def _expose(pairs: list[list[str]]) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    ms_bind, ms_rec, ms_move = 4096, 16384, 8192

    def mount(src, dst, fstype, flags, data):
        args = [s.encode() if isinstance(s, str) else s for s in (src, dst, fstype, data)]
        if libc.mount(args[0], args[1], args[2], flags, args[3]) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"mount {src} on {dst}: {os.strerror(err)}")

    stage = _stage()
    kept = []
    for i, (_closed_dir, inner) in enumerate(pairs):
        spot = os.path.join(stage, str(i))
        os.mkdir(spot)
        mount(inner, spot, None, ms_bind | ms_rec, None)
        kept.append((spot, inner))
    for closed_dir in sorted({c for c, _ in pairs}):
        mount("tmpfs", closed_dir, "tmpfs", 0, "mode=755")
    for spot, inner in kept:
        os.makedirs(inner, exist_ok=True)
        mount(spot, inner, None, ms_move, None)
    for spot, _inner in kept:  # moved away: empty folders, which no grading needs any more
        try:
            os.rmdir(spot)
        except OSError:
            pass
    try:
        os.rmdir(stage)
    except OSError:
        pass


def drop_privileges(p: dict) -> None:
    """In the process that will import student code: become the throwaway uid, no groups."""
    uid = p.get("uid")
    if uid is None:
        return
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise SystemExit("could not drop privileges")
