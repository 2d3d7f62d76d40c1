"""One upstream fill in progress, shared by every request for the same object (cut-through caching).

A fill reads the upstream's answer at the *upstream's* speed into memory; requests never pull
it. Each waiting request (the one that started the fill, and every request that joined it)
gets the head as soon as the upstream sent it and then streams the body from the bytes
already received, at its own client's pace: a slow viewer neither slows the fill nor the other
viewers, and a viewer who joins a fill halfway gets the first half at once from memory. This is
what Varnish (streaming on a busy object) and nginx (``proxy_cache_lock`` + ``slice``) do, and it
keeps a miss's time-to-first-byte at one upstream round trip per tier instead of one whole body
per tier.

Everything runs on the serving event loop; no locks are needed beyond asyncio's own ordering.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass


class UpstreamFailed(Exception):
    """The upstream could not be reached, timed out or broke off; ``status`` is what the tier answers."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class FillHead:
    """What the upstream's status line and headers said, before any body byte arrived."""

    status: int
    headers: list[tuple[str, str]]
    """As the tier will store them (hop-by-hop and per-hop headers removed)."""
    content_length: int | None
    shareable: bool
    vary: tuple[tuple[str, str], ...]
    """The ``Vary`` request-header names with the values of the request that started the fill."""


class Fill:
    """The head (once known) and the body received so far of one upstream fetch.

    The fill task calls :meth:`set_head` once, :meth:`append` per body chunk and :meth:`finish`
    (or :meth:`fail`) at the end; readers await :meth:`head` and iterate :meth:`body`.
    """

    def __init__(self) -> None:
        self._head: asyncio.Future[FillHead | None] = asyncio.get_running_loop().create_future()
        self.chunks: list[bytes] = []
        self.received_bytes = 0
        self.finished = False
        self.error: UpstreamFailed | None = None
        self.storable = True
        """Cleared when a purge covers this object mid-fill: what it fetched may predate the purge."""
        self._arrived = asyncio.Event()

    # ---- the fill task's side -------------------------------------------------------------------
    def set_head(self, head: FillHead | None) -> None:
        """``None``: the object will not be cached (too large); readers go upstream themselves."""
        if not self._head.done():
            self._head.set_result(head)

    def append(self, chunk: bytes) -> None:
        self.chunks.append(chunk)
        self.received_bytes += len(chunk)
        self._wake()

    def finish(self) -> None:
        self.finished = True
        self.set_head(None)  # no-op when the head was set; unblocks readers of a body-less failure
        self._wake()

    def fail(self, error: UpstreamFailed) -> None:
        self.error = error
        self.finished = True
        if not self._head.done():
            self._head.set_exception(error)
            self._head.exception()  # retrieved: a fill nobody waited for logs no warning
        self._wake()

    def _wake(self) -> None:
        self._arrived.set()
        self._arrived = asyncio.Event()

    # ---- the readers' side ----------------------------------------------------------------------
    async def head(self) -> FillHead | None:
        """The upstream's head; raises :class:`UpstreamFailed` when none came. A reader that is
        cancelled (its client hung up) leaves the fill and the other readers untouched."""
        return await asyncio.shield(self._head)

    async def body(self) -> AsyncIterator[bytes]:
        """Every body chunk, from the first, as fast as it arrives; raises if the fill broke off."""
        sent = 0
        while True:
            while sent < len(self.chunks):
                yield self.chunks[sent]
                sent += 1
            if self.finished:
                if self.error is not None:
                    raise self.error
                return
            await self._arrived.wait()
