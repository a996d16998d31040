"""Hidden grader for echo_server.py: serve() under a bigger crowd of clients."""

import pytest

from graders.harness import SCALE, fail
from graders.scenarios import echo_server as sc

pytestmark = pytest.mark.hidden

LIMIT = 1.5 * SCALE  # as in the visible grader
CLIENTS, LINES = 120, 8
SUFFIX = sc.SUFFIX.decode()


@pytest.mark.points(2)
def test_serve_crowd(student):
    """serve() answers 120 clients at once, each line split at random places, then stops"""
    r = student.run(sc.serve_checks, CLIENTS, LINES, 4242, LIMIT, LIMIT,
                    checks={"threads": False}, what="serve()")
    for stop in (r["stop1"], r["stop2"]):
        if stop["error"]:
            fail(f"serve() raised {stop['error']}: it must return normally once stop is set.")
    if r["refused"]:
        fail(f"{r['refused']} of {CLIENTS} clients could not connect to serve()'s server.")
    if r["wrong"]:
        w = r["wrong"]
        fail(f"client {w['client']} of {CLIENTS} sent {w['sent']!r} and got {w['got']!r}; "
             f"expected {w['want']!r}: buffer what recv() returns and answer each complete "
             f"line, in order.")
    done = r["statuses"].get("done", 0)
    if done < CLIENTS:
        fail(f"only {done} of {CLIENTS} clients got all {LINES} replies ({r['replies']} "
             f"replies in all) before nothing happened for {LIMIT:g} s, while another client "
             f"stayed connected and silent: serve each client in its own thread.")
    if not r["stop2"]["returned"]:
        fail(f"with {CLIENTS + 1} clients connected, serve() had not returned {LIMIT:g} s "
             f"after stop was set: check `stop` while accepting, and do not wait for talk().")
    if r["left_in_talk"] or r["left_threads"]:
        fail(f"{r['left_threads']} thread(s) started by serve() were still running "
             f"{LIMIT:g} s after every client had left: talk() must return when its client "
             f"leaves.")
