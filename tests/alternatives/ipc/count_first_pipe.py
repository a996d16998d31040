"""ALTERNATIVE: count sent first instead of an end mark, and a Pipe as the return path.

The producer puts ``len(items)`` on the ``multiprocessing.Queue`` and then the
items, bare; the consumer reads the count, then exactly that many items, and
sends each back to the caller through the sending end of a one-way
``multiprocessing.Pipe``. The caller receives the count and the items with
``recv()``, polling so that it notices a child that died, and joins both
processes only after it has received everything.
"""

import multiprocessing
from collections.abc import Sequence


def _producer(items, q) -> None:
    q.put(len(items))
    for item in items:
        q.put(item)


def _consumer(q, conn) -> None:
    n = q.get()
    conn.send(n)
    for _ in range(n):
        conn.send(q.get())
    conn.close()


def _receive(conn, producer, consumer) -> list:
    def recv():
        while not conn.poll(0.1):
            if producer.exitcode not in (None, 0) or consumer.exitcode is not None:
                if conn.poll(0):  # it may have sent the rest just before it ended
                    break
                raise RuntimeError(f"transfer failed: producer exit code {producer.exitcode}, "
                                   f"consumer exit code {consumer.exitcode}")
        try:
            return conn.recv()
        except EOFError:  # the consumer ended (closing the pipe) before sending everything
            consumer.join()
            raise RuntimeError(f"transfer failed: consumer exit code {consumer.exitcode}") \
                from None

    n = recv()
    return [recv() for _ in range(n)]


def transfer(items: Sequence[object]) -> list:
    """Send ``items`` through a producer and a consumer process; return them in order.

    Items must be picklable, as for the reference. Raises ``RuntimeError`` if a child
    dies on the way; the processes are then terminated and reaped too.
    """
    items = list(items)
    q = multiprocessing.Queue()
    receiver, sender = multiprocessing.Pipe(duplex=False)
    producer = multiprocessing.Process(target=_producer, args=(items, q))
    consumer = multiprocessing.Process(target=_consumer, args=(q, sender))
    procs = [producer, consumer]
    done = False
    try:
        for p in procs:
            p.start()
        sender.close()  # only the consumer writes to the pipe now
        result = _receive(receiver, producer, consumer)
        done = True
    finally:
        receiver.close()
        for p in procs:
            if p.pid is None:
                continue
            if not done:
                p.terminate()
            p.join()
    return result
