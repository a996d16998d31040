"""Forged observation: meals eaten in the process that called kitchen() (its consumers are
threads), reported as eaten elsewhere.

Class 1. kitchen() runs in the grading child, beside the scenario: at import the module
replaces the scenario's eat with one that names another process as the eater, in the meal note
the scenario used to read, and in what it tells the grader's dining desk. The desk takes the
eater's process from the kernel (SO_PEERCRED), never from what the caller says.
"""

TWIN = "producer_consumer/kitchen_consumer_threads"
SELECT = ["-k", "test_kitchen and not small and not interrupted and fork and not forkserver"]
ATTACK = '''
import json as _json
import os as _os
import socket as _socket
import sys as _sys

_sc = _sys.modules.get("graders.scenarios.producer_consumer")
if _sc is not None:
    def _forged_note(folder, delay, bad, name, item):
        line = _json.dumps([str(name), _os.getpid() + 1, item]) + "\\n"
        with open(_os.path.join(folder, f"eat-{_os.getpid() + 1}"), "a") as f:
            f.write(line)
        if item in bad:
            raise ValueError(item)

    def _forged_desk_eat(address, name, item):
        with _socket.socket(_socket.AF_UNIX) as s:
            s.connect(address)
            said = _json.dumps([str(name), item]).encode()
            s.sendall(f"eat {_os.getpid() + 1}\\n".encode() + said)
            s.shutdown(_socket.SHUT_WR)
            if s.recv(16) == b"raise":
                raise ValueError(item)

    _sc.record_eat = _forged_note
    _sc.desk_eat = _forged_desk_eat
'''
