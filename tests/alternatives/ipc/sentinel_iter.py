"""ALTERNATIVE: a unique end-of-stream object read with iter(q.get, END), from get_context().

Instead of tagging every item, the stream ends with ``END``, an instance of a
private class that pickles by reference to the module-level name, so it arrives
as the very same object in every process whatever the start method, and no
item can equal it (it compares by identity). Producer and consumer read with
``iter(q.get, END)``; the queues and processes come from
``multiprocessing.get_context()``. The caller polls its queue with a timeout
and checks that the children are alive.
"""

import multiprocessing
import queue
from collections.abc import Sequence


class _End:
    """The end of the stream: a singleton that survives pickling as itself."""

    def __reduce__(self):
        return "END"

    def __repr__(self):
        return "END"


END = _End()


def _produce(items, out_q) -> None:
    for item in items:
        out_q.put(item)
    out_q.put(END)


def _relay(in_q, out_q) -> None:
    for item in iter(in_q.get, END):
        out_q.put(item)
    out_q.put(END)


def transfer(items: Sequence[object]) -> list:
    """Send ``items`` through a producer and a consumer process; return them in order.

    Items must be picklable, as for the reference. Raises ``RuntimeError`` if a child
    dies on the way; the processes are then terminated and reaped too.
    """
    ctx = multiprocessing.get_context()
    to_consumer, to_caller = ctx.Queue(), ctx.Queue()
    children = [ctx.Process(target=_produce, args=(list(items), to_consumer)),
                ctx.Process(target=_relay, args=(to_consumer, to_caller))]
    got: list = []
    finished = False
    try:
        for child in children:
            child.start()
        while True:
            dead = [c.exitcode for c in children if c.exitcode not in (None, 0)]
            quiet = not children[1].is_alive()
            try:
                item = to_caller.get(timeout=0.2)
            except queue.Empty:
                if dead or quiet:
                    codes = [c.exitcode for c in children]
                    raise RuntimeError(f"transfer failed: exit codes {codes}") from None
                continue
            if item is END:
                break
            got.append(item)
        finished = True
    finally:
        for child in children:
            if child.pid is None:
                continue
            if not finished:
                child.terminate()
            child.join()
    return got
