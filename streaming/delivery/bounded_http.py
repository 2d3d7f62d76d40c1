"""uvicorn's httptools HTTP/1.1 protocol with the limits a public server needs (:class:`ConnectionLimits`).

Why this exists: uvicorn bounds neither the size of a request head nor the time a client takes
to send it. llhttp (under httptools) buffers a header value of any length, and the only timer
is keep-alive *after* a response, so one 50 MB header was accepted (and its memory kept) and
connections trickling header bytes (slowloris) were never closed. uvicorn's h11 protocol has
``h11_max_incomplete_event_size``, but it answers 400 rather than 431 and parses in pure Python,
which costs the tiers throughput on small cached objects; this keeps httptools and adds what
nginx has: ``large_client_header_buffers`` (431, RFC 6585 §5), ``client_header_timeout`` (408
and close, RFC 9110 §15.5.9), ``client_body_timeout`` and ``keepalive_timeout``.

Counting is per ``data_received`` chunk, not per byte: the common request (a whole head in one
chunk) costs one comparison and no timer, so the guard stays off the tiers' hot path. A head may
overrun the limit by at most one socket read before it is refused, which still bounds memory.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from streamlab.streaming.delivery.settings import ConnectionLimits

logger = logging.getLogger(__name__)

_END_OF_HEAD = b"\r\n\r\n"
LINGER_S = 2.0
"""After a refusal, how long what the client still sends is read and dropped before closing.

Closing a socket with unread bytes makes the kernel send RST, which can destroy the 431/408 in
flight before the client reads it; so the answer is followed by FIN, and the rest of the
client's bytes are drained for at most this long (nginx's ``lingering_close``, shorter).
"""
_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class BoundedHttpProtocol(HttpToolsProtocol):
    """One HTTP/1.1 connection whose request heads, bodies and idle time are bounded by :attr:`limits`.

    ``_head_bytes`` is the size of the request head being received, or ``None`` while no head is
    (between a complete head and the end of its body). The head timer runs from accept, or from
    a head left incomplete at the end of a read, until the head completes; the body timer from
    the end of a read that left a body incomplete until the body's end; between requests
    uvicorn's keep-alive timer (``idle_timeout_s``) closes an idle connection. Timers are only
    armed when a read ends mid-message, so a request that arrives whole arms none.
    """

    limits: ConnectionLimits = ConnectionLimits()

    def __init__(
        self, config: Config, server_state: ServerState, app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.timeout_keep_alive = self.limits.idle_timeout_s  # type: ignore[assignment]  # call_later takes seconds as float
        self._head_bytes: int | None = 0
        self._heads_completed = 0
        self._head_begun = False  # the parser has seen the start of a head that has not completed yet
        self._tail = b""
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._lingering = False

    # ---- connection events ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer = self.loop.call_later(self.limits.header_timeout_s, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # refused: drained, never parsed
        limit = self.limits.max_header_bytes
        before = self._head_bytes
        if before is not None and before + len(data) > limit and before + _head_part(self._tail, data) > limit:
            self._refuse(431, f"request head over {limit} bytes")
            return
        completed = self._heads_completed
        super().data_received(data)
        if self.transport.is_closing():
            return
        if self._head_bytes is None:  # a head announced a body that has not all arrived yet
            if self._body_timer is None:
                self._body_timer = self.loop.call_later(self.limits.body_timeout_s, self._body_timed_out)
            return
        if before is not None and completed == self._heads_completed:
            self._head_bytes = before + len(data)  # the same head, still incomplete
        elif not self._head_begun:  # a message ended in this chunk and nothing of the next one came
            self._head_bytes = 0
        else:  # a pipelined head began after a message ended here: at most what follows the last head end
            end = data.rfind(_END_OF_HEAD)
            self._head_bytes = len(data) - (end + len(_END_OF_HEAD)) if end >= 0 else len(data)
        if self._head_bytes == 0:
            return
        if self._head_bytes > limit:
            self._refuse(431, f"request head over {limit} bytes")
            return
        self._tail = data[-(len(_END_OF_HEAD) - 1):]
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.header_timeout_s, self._head_timed_out)

    # ---- parser callbacks (httptools calls these from ``feed_data``) ----------------------------------
    def on_message_begin(self) -> None:
        self._head_begun = True
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._head_begun = False
        self._head_bytes = None
        self._heads_completed += 1
        self._tail = b""
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._head_bytes = 0
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        super().on_message_complete()

    # ---- refusals -------------------------------------------------------------------------------------
    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False  # a response is still going out: close once it is done
        elif self._head_bytes:
            self._refuse(408, f"request head not complete within {self.limits.header_timeout_s} s")
        else:
            self.transport.close()  # nothing asked: no answer owed (nginx closes silently too)

    def _body_timed_out(self) -> None:
        self._body_timer = None
        logger.info("%s: request body not complete within %s s; connection closed", self._peer(), self.limits.body_timeout_s)
        self.transport.close()

    def _refuse(self, status: int, reason: str) -> None:
        """Answer ``status`` and close, unless a response is already on the wire (then only close)."""
        self._cancel_timers()
        logger.info("%s: %d %s", self._peer(), status, reason)
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()
            return
        body = f"{reason}\n".encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (status, _REASONS[status], len(body), body)
        )
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self._lingering = True
        self.flow.resume_reading()  # drain even if reading was paused
        self._head_timer = self.loop.call_later(LINGER_S, self.transport.close)

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None

    def _peer(self) -> str:
        return "%s:%d" % self.client if self.client else "client"


def bounded_protocol(limits: ConnectionLimits) -> type[BoundedHttpProtocol]:
    """A protocol class for ``uvicorn.Config(http=...)`` (uvicorn builds protocols from a class)."""
    return type("BoundedHttpProtocol", (BoundedHttpProtocol,), {"limits": limits})


def _head_part(tail: bytes, data: bytes) -> int:
    """How many bytes of ``data`` belong to the head being received (all of them if it does not end here)."""
    end = (tail + data).find(_END_OF_HEAD)
    return len(data) if end < 0 else max(0, end + len(_END_OF_HEAD) - len(tail))
