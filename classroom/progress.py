"""Progress of a long run (grade-all, bench, verify): a live bar on a terminal, lines elsewhere.

On a terminal, a tqdm bar at the bottom shows how many items are done of how many, the
elapsed and the remaining time, and each finished item's line is printed above it. Where
the stream is not a terminal (a CI log, a pipe) or tqdm is not installed, each finished
item prints one plain line instead: "[k/N] <its line>  (elapsed 1:05, about 3:20 left)".
Safe to call from several threads.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


def clock(seconds: float) -> str:
    """65 -> "1:05", 3725 -> "1:02:05"."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """`total` items of `unit`s; call done(line) as each one finishes, close() at the end."""

    def __init__(self, total: int, unit: str, stream: TextIO | None = None,
                 live: bool | None = None):
        self.total, self.count = total, 0
        self.stream = stream or sys.stdout
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.width = len(str(total))
        self.bar = None
        if live is None:
            live = hasattr(self.stream, "isatty") and self.stream.isatty()
        if live:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, unit=unit, file=self.stream,
                                dynamic_ncols=True, smoothing=0.1, leave=True,
                                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} {unit} "
                                           "[{elapsed} gone, {remaining} left]")
                self.stop = threading.Event()
                threading.Thread(target=self._tick, daemon=True).start()

    def _tick(self) -> None:
        """Redraw the bar every second, so the elapsed time moves between two items."""
        while not self.stop.wait(1.0):
            with self.lock:
                if self.bar is not None:
                    self.bar.refresh()

    @property
    def live(self) -> bool:
        return self.bar is not None

    def done(self, line: str) -> None:
        """One more item finished; `line` says how it went."""
        with self.lock:
            self.count += 1
            head = f"[{self.count:>{self.width}}/{self.total}] {line}"
            if self.bar is not None:
                self.bar.write(head, file=self.stream)
                self.bar.update(1)
                return
            elapsed = time.monotonic() - self.started
            left = elapsed / self.count * (self.total - self.count)
            tail = f"about {clock(left)} left" if self.count < self.total else "done"
            print(f"{head}  (elapsed {clock(elapsed)}, {tail})", file=self.stream, flush=True)

    def close(self) -> None:
        with self.lock:
            if self.bar is not None:
                self.stop.set()
                self.bar.close()
                self.bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
