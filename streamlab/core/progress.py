"""Progress for long work, one way for every pipeline.

On a terminal a rich bar redraws in place. In a log (stderr is not a TTY: ``make demo | tee``, CI) a
bar still open after ``STREAMLAB_PROGRESS_INTERVAL_S`` (30 s) prints one plain line per interval
(the innermost open bar only: its description names the work), so a four-minute ingest is not four
silent minutes, and shorter work prints nothing, so logs are not flooded. ``STREAMLAB_PROGRESS=0``
turns both off (the tests do). The lines come from a thread while a bar is open, so a process that
forks only when it runs one thread (:func:`streamlab.core.forked.fork_available`) does not fork inside one.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Literal, TypeVar

T = TypeVar("T")

DEFAULT_INTERVAL_S = 30.0


def _mode() -> Literal["off", "bar", "lines"]:
    if os.environ.get("STREAMLAB_PROGRESS") in {"0", "false", "off"}:
        return "off"
    return "bar" if sys.stderr.isatty() else "lines"


def _interval_s() -> float:
    try:
        value = float(os.environ.get("STREAMLAB_PROGRESS_INTERVAL_S", DEFAULT_INTERVAL_S))
    except ValueError:
        return DEFAULT_INTERVAL_S
    return value if value > 0 else DEFAULT_INTERVAL_S


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


_open_lines: list[object] = []
"""The log-line bars open now, outermost first: only the innermost speaks on a beat (an ingest's title, stage and
tracks bars would otherwise print three lines every interval, two of them unchanged)."""
_open_lock = threading.Lock()


@contextmanager
def _log_lines(description: str, total: int | None) -> Iterator[Callable[[float], None]]:
    """Plain lines for a log: one per interval while the work runs (innermost bar only), one when long work ends."""
    interval = _interval_s()
    done = [0.0]
    started = time.monotonic()
    stop = threading.Event()
    me = object()

    def line(status: str = "") -> None:
        count = f"{done[0]:g}/{total}" if total else f"{done[0]:g}"
        print(f"  [{_clock(time.monotonic() - started)}] {description}: {count}{status}", file=sys.stderr, flush=True)

    def heartbeat() -> None:
        while not stop.wait(interval):
            with _open_lock:
                innermost = bool(_open_lines) and _open_lines[-1] is me
            if innermost:
                line()

    with _open_lock:
        _open_lines.append(me)
    beat = threading.Thread(target=heartbeat, name="progress-lines", daemon=True)
    beat.start()

    def advance(n: float = 1) -> None:
        done[0] += n

    ok = False
    try:
        yield advance
        ok = True
    finally:
        stop.set()
        beat.join()
        with _open_lock:
            _open_lines.remove(me)
        if ok and time.monotonic() - started >= interval:
            line(" done")


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[[float], None]]:
    """Yield ``advance(n=1)``: a rich bar with elapsed and remaining time on a terminal, plain lines in a log."""
    mode = _mode()
    if mode == "off":
        yield lambda n=1: None
        return
    if mode == "lines":
        with _log_lines(description, total) as advance:
            yield advance
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate with a progress bar."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress_bar(description, total) as advance:
        for item in items:
            yield item
            advance(1)
