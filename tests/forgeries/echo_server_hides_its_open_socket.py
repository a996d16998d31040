"""Forged observation: a chat() that never closes its socket, with the scenario's own check of
that rewritten in memory.

Class 1. chat() runs in the grading child, whose audit hook keeps every socket that connects
to the grader's echo server, to see afterwards whether chat() closed it: at import the module
replaces the scenario's helper that counts those still open with one that says none is. The
echo server chat() talks to is the grader's own, in the grader's process (graders/desk.py's
Peer), which sees from its end of the connection whether chat() closed it.
"""

TWIN = "echo_server/chat_never_closes"
SELECT = ["-k", "test_chat_closes_its_socket"]
ATTACK = '''
import sys as _sys

_sc = _sys.modules.get("graders.scenarios.echo_server")
if _sc is not None:
    _sc._left_open = lambda held, limit: 0
'''
