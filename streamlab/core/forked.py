"""A consumer in a forked child process, fed in order through a pipe: one stage of a two-process pipeline.

Why: a Python loop that does two jobs one after the other (parse and count events, then score the windows they
fill) uses one core; on a box with two, the second job can run beside the first when the first hands it its work
as plain data. :class:`ForkedConsumer` is that hand-off: the parent :meth:`~ForkedConsumer.send` s items (pickled,
in order, through a pipe), the child runs ``consume(items)`` over them as they come, and
:meth:`~ForkedConsumer.finish` returns what it returned (or raises what it raised). The pipe is the only channel, so
the child sees exactly the items sent, in order, and the result is the one a call in the parent would give.

Fork, not spawn: the child starts in milliseconds with the parent's modules and the consumer's settings as they are
(a spawned interpreter re-imports numpy and the project for a second or more, while the parent waits on a full
pipe). Fork is only safe in a process with one thread (another thread may hold a lock the child then never sees
released), so :func:`fork_available` says no when a thread runs; callers then do the work in process.

Back-pressure: the child reads ahead of its consumer up to ``buffer_bytes`` (a thread drains the pipe; it waits in
``read`` with the GIL released), then the pipe fills and :meth:`~ForkedConsumer.send` blocks: the parent runs at most
that far ahead and memory stays bounded. Why so deep: the two stages' costs move with the input (a window of few
events costs a closer more than its reader; a busy one the reverse), and a stretch where the child is slower only
costs wall time if the parent must wait for it; with room, the child catches up when the parent is the slower one.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

PIPE_BYTES = 1 << 20
"""Bytes of items in flight (Linux's default ceiling for an unprivileged pipe, ``/proc/sys/fs/pipe-max-size``)."""
BUFFER_BYTES = 64 << 20
"""Bytes of items the child reads ahead of its consumer (a thread drains the pipe into memory up to this)."""
_END = b""
"""The end of the items (a pickle is never empty)."""


class ForkedConsumerError(RuntimeError):
    """The child failed in a way that has no exception to re-raise (killed, or its exception did not pickle)."""


def fork_available() -> bool:
    """Whether a child can be forked safely here: ``os.fork`` exists, at least two CPUs are usable (one would only
    take turns) and this process runs one thread."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return hasattr(os, "fork") and cpus >= 2 and threading.active_count() == 1


class ForkedConsumer(Generic[T, R]):
    """Runs ``consume(items)`` in a forked child; :meth:`send` items to it, :meth:`finish` for its result.

    ``consume`` gets an iterator of the items sent; it must read them all (the end of the iterator is the parent's
    :meth:`finish`). Use as a context manager, or call :meth:`close` on every path: leaving early stops the child.
    A bare ``os.fork`` (not a :mod:`multiprocessing` process): a daemonic process (a pool's worker, as the benchmark
    runs in) may not start those, and the child needs nothing of theirs but the two pipes.
    """

    def __init__(self, consume: Callable[[Iterator[T]], R], pipe_bytes: int = PIPE_BYTES,
                 buffer_bytes: int = BUFFER_BYTES) -> None:
        items_r, items_w = os.pipe()
        result_r, result_w = os.pipe()
        _enlarge(items_w, pipe_bytes)
        for stream in (sys.stdout, sys.stderr):  # or the child's exit could write the parent's buffered text twice
            if stream is not None:
                stream.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 1
            try:
                os.close(items_w)
                os.close(result_r)
                _child(consume, Connection(items_r, writable=False), Connection(result_w, readable=False), buffer_bytes)
                code = 0
            finally:
                os._exit(code)
        os.close(items_r)
        os.close(result_w)
        self.pid = pid
        self.exitcode: int | None = None
        self._items = Connection(items_w, readable=False)
        self._result = Connection(result_r, writable=False)
        self._dumps = pickle.dumps
        self._send = self._items.send_bytes
        self._done = False

    def send(self, item: T) -> None:
        """Hand ``item`` to the child (blocks while the pipe is full). A child that died is reported here."""
        try:
            self._send(self._dumps(item, pickle.HIGHEST_PROTOCOL))
        except (BrokenPipeError, ConnectionResetError):
            self._raise_from_child()

    def finish(self) -> R:
        """No more items: the child's result (its exception re-raised here)."""
        try:
            self._items.send_bytes(_END)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self._items.close()
        return self._raise_from_child()

    def _raise_from_child(self) -> Any:
        try:
            status, value = self._result.recv()
        except (EOFError, OSError):
            self.close()
            raise ForkedConsumerError(f"the forked consumer died (exit code {self.exitcode})") from None
        self._done = True
        self.close()
        if status == "ok":
            return value
        if isinstance(value, BaseException):
            raise value
        raise ForkedConsumerError(f"the forked consumer failed:\n{value}")

    def close(self) -> None:
        """Stop the child (if it is still running: it sees the pipe end early) and release the pipes."""
        if not self._items.closed:
            self._items.close()
        if self.exitcode is None:
            deadline = time.monotonic() + (60.0 if self._done else 5.0)
            while True:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    os.kill(self.pid, signal.SIGKILL)
                    _, status = os.waitpid(self.pid, 0)
                    break
                time.sleep(0.001)
            self.exitcode = os.waitstatus_to_exitcode(status)
        if not self._result.closed:
            self._result.close()

    def __enter__(self) -> ForkedConsumer[T, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _enlarge(fd: int, size: int) -> None:
    """Raise a pipe's capacity to ``size`` bytes where the platform allows (else it keeps its default)."""
    try:
        import fcntl

        with open("/proc/sys/fs/pipe-max-size") as handle:
            size = min(size, int(handle.read()))
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)
    except (ImportError, AttributeError, OSError, ValueError):
        pass


def _child(consume: Callable[[Iterator[Any]], Any], items: Connection, result: Connection, buffer_bytes: int) -> None:
    loads = pickle.loads
    queue: deque[bytes | None] = deque()
    held = [0]
    ready = threading.Condition()

    def drain() -> None:
        """Read the pipe into ``queue`` while it holds under ``buffer_bytes`` (``None``: the parent stopped early)."""
        try:
            while True:
                data = items.recv_bytes()
                with ready:
                    ready.wait_for(lambda: held[0] < buffer_bytes)
                    queue.append(data)
                    held[0] += len(data)
                    ready.notify_all()
                if data == _END:
                    return
        except (EOFError, OSError):
            with ready:
                queue.append(None)
                ready.notify_all()

    def received() -> Iterator[Any]:
        while True:
            with ready:
                ready.wait_for(lambda: bool(queue))
                data = queue.popleft()
                if data is not None:
                    held[0] -= len(data)
                ready.notify_all()
            if data is None:
                raise EOFError("the parent stopped before the end of the items")
            if data == _END:
                return
            yield loads(data)

    threading.Thread(target=drain, name="forked-consumer-drain", daemon=True).start()
    try:
        answer: tuple[str, Any] = ("ok", consume(received()))
    except BaseException as exc:  # everything goes back to the parent, which decides
        answer = ("error", exc)
        try:
            pickle.dumps(exc)
        except Exception:
            answer = ("error", traceback.format_exc())
    try:
        result.send(answer)
    except (BrokenPipeError, OSError):
        pass
