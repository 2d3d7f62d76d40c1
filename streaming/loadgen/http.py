"""A minimal HTTP/1.1 GET client for the crowd: keep-alive connections on raw asyncio protocols.

A general client (aiohttp) spends about 0.2 ms of CPU per request on URL objects, header
multidicts, response objects and its connector's bookkeeping; at 1,000 viewers x 6 requests a
second that is more than a core, so the load generator, not the edge, would be measured. A crowd
needs much less: GET only, one loopback host, a status, the body (or only its size: a part's bytes
are counted, never kept) and one header (``X-Part-Written-At``). This client does only that, on an
:class:`asyncio.Protocol` (no stream reader, no per-request task), and costs a few tens of µs.

What a browser does is kept: persistent connections (HTTP/1.1 keep-alive, one per request in
flight, as many as a viewer has in flight: a blocking playlist reload and a preload-hinted part
at once), ``Content-Length`` and chunked bodies (Varnish streams a part still being written), and
the browser's silent retry of a request whose reused connection the server had already closed.
Anything else (a refused connection, a reset, a timeout) is an error for the viewer to retry.
"""

from __future__ import annotations

import asyncio
from typing import NamedTuple

MAX_HEAD_BYTES = 64 * 1024
"""A response head larger than this is a broken server: the connection is dropped."""
MAX_IDLE = 4
"""Idle keep-alive connections kept per client (a viewer has at most two requests in flight)."""

_HEAD, _LENGTH, _CHUNKED, _UNTIL_CLOSE = range(4)


class Response(NamedTuple):
    status: int
    body: bytes
    """Empty unless the request asked for the body (``keep_body``)."""
    size: int
    """Body bytes received (kept or not)."""
    written_at: bytes | None
    """The raw value of the ``X-Part-Written-At`` header, if any."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time, its response parsed as bytes arrive."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Response] | None = None
        self.lost = False
        self.received = 0
        self._start(False)

    def _start(self, keep_body: bool) -> None:
        self.keep_body = keep_body
        self.mode = _HEAD
        self.buffer = bytearray()
        self.body = bytearray()
        self.size = 0
        self.remaining = 0
        self.status = 0
        self.written_at: bytes | None = None
        self.close_after = False
        self.received = 0

    # ---- asyncio.Protocol -----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.waiter is not None and not self.waiter.done():
            if self.mode == _UNTIL_CLOSE:  # a body delimited by the connection's end
                self._finish()
            else:
                self.waiter.set_exception(ConnectionError("connection closed mid-response"))

    def eof_received(self) -> bool:
        return False  # close our side too: connection_lost follows

    def data_received(self, data: bytes) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():  # bytes after a timeout or an unexpected response: drop the connection
            self.abort()
            return
        self.received += len(data)
        try:
            self._feed(data)
        except (ValueError, IndexError) as exc:  # a malformed head or chunk size
            if not waiter.done():
                waiter.set_exception(ConnectionError(f"malformed response: {exc}"))
            self.abort()

    # ---- parsing --------------------------------------------------------------------------------
    def _feed(self, data: bytes) -> None:
        if self.mode == _HEAD:
            self.buffer += data
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD_BYTES:
                    raise ValueError("response head too large")
                return
            self._head(bytes(self.buffer[:end]).lower())
            data = bytes(self.buffer[end + 4:])
            self.buffer = bytearray()
            if self.mode == _LENGTH and self.remaining == 0:
                self._finish()
                return
        if self.mode == _LENGTH:
            self._take(data[:self.remaining] if len(data) > self.remaining else data)
            self.remaining -= len(data)
            if self.remaining <= 0:
                self._finish()
        elif self.mode == _CHUNKED:
            self.buffer += data
            self._chunks()
        else:
            self._take(data)

    def _head(self, head: bytes) -> None:
        self.status = int(head[9:12])
        self.close_after = head.startswith(b"http/1.0") or _value(head, b"\r\nconnection:") == b"close"
        self.written_at = _value(head, b"\r\nx-part-written-at:")
        encoding = _value(head, b"\r\ntransfer-encoding:")
        length = _value(head, b"\r\ncontent-length:")
        if encoding is not None and b"chunked" in encoding:
            self.mode = _CHUNKED
        elif length is not None:
            self.mode, self.remaining = _LENGTH, int(length)
        elif self.status in (204, 304) or 100 <= self.status < 200:
            self.mode, self.remaining = _LENGTH, 0
        else:
            self.mode, self.close_after = _UNTIL_CLOSE, True

    def _chunks(self) -> None:
        """Consume every complete chunk in the buffer; the last (size 0) ends the response."""
        buffer = self.buffer
        at = 0
        while True:
            eol = buffer.find(b"\r\n", at)
            if eol < 0:
                break
            size = int(bytes(buffer[at:eol]).split(b";", 1)[0], 16)
            if size == 0:  # then optional trailers and an empty line
                if buffer[eol + 2:eol + 4] == b"\r\n":
                    del buffer[:eol + 4]
                    self._finish()
                    return
                if buffer.find(b"\r\n\r\n", eol) < 0:
                    break
                self._finish()
                return
            end = eol + 2 + size
            if len(buffer) < end + 2:
                break
            self._take(buffer[eol + 2:end])
            at = end + 2
        if at:
            del buffer[:at]

    def _take(self, data: bytes | bytearray) -> None:
        self.size += len(data)
        if self.keep_body:
            self.body += data

    def _finish(self) -> None:
        waiter = self.waiter
        self.waiter = None
        if waiter is not None and not waiter.done():
            body = bytes(self.body) if self.keep_body else b""
            waiter.set_result(Response(self.status, body, self.size, self.written_at))
        if self.close_after:
            self.abort()

    # ---- requests -------------------------------------------------------------------------------
    def send(self, request: bytes, keep_body: bool, loop: asyncio.AbstractEventLoop) -> asyncio.Future[Response]:
        self._start(keep_body)
        self.waiter = loop.create_future()
        assert self.transport is not None
        self.transport.write(request)
        return self.waiter

    def timed_out(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(TimeoutError("no complete response in time"))
        self.abort()

    def abort(self) -> None:
        self.lost = True
        if self.transport is not None:
            self.transport.abort()


def _value(head: bytes, name: bytes) -> bytes | None:
    """A header's value from a lower-cased head (``name`` with its leading CRLF and colon)."""
    at = head.find(name)
    if at < 0:
        return None
    start = at + len(name)
    end = head.find(b"\r\n", start)
    return head[start:end if end >= 0 else len(head)].strip()


class HttpClient:
    """GETs to one ``host:port`` over keep-alive connections (one per request in flight)."""

    def __init__(self, host: str, port: int, timeout_s: float) -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self.prefix = b"GET "
        self.suffix = f" HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: streamlab-crowd\r\n\r\n".encode()
        self.idle: list[_Connection] = []

    async def get(self, path: str, keep_body: bool = True) -> Response:
        """One GET; raises ``ConnectionError``/``OSError`` or ``TimeoutError`` (the caller retries)."""
        loop = asyncio.get_running_loop()
        request = self.prefix + path.encode() + self.suffix
        connection = self._idle()
        if connection is not None:
            try:
                return await self._exchange(connection, request, keep_body, loop)
            except ConnectionError:
                if connection.received:  # it failed mid-response: an error, not a stale connection
                    raise
                # the server closed the idle connection first: a browser retries once on a new one
        connection = await self._connect(loop)
        return await self._exchange(connection, request, keep_body, loop)

    async def _exchange(self, connection: _Connection, request: bytes, keep_body: bool,
                        loop: asyncio.AbstractEventLoop) -> Response:
        timer = loop.call_later(self.timeout_s, connection.timed_out)
        try:
            response = await connection.send(request, keep_body, loop)
        except BaseException:
            connection.abort()
            raise
        finally:
            timer.cancel()
        if not connection.lost and len(self.idle) < MAX_IDLE:
            self.idle.append(connection)
        return response

    def _idle(self) -> _Connection | None:
        while self.idle:
            connection = self.idle.pop()
            if not connection.lost:
                return connection
        return None

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        _, protocol = await asyncio.wait_for(loop.create_connection(_Connection, self.host, self.port), self.timeout_s)
        return protocol

    def close(self) -> None:
        for connection in self.idle:
            connection.abort()
        self.idle.clear()
