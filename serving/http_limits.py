"""What one connection may cost the model server before a handler runs (issue 20: no request stalls it).

Two places, because the costs arise in two places:

- **The connection** (:class:`ModelServerProtocol`): uvicorn's httptools parser, as BentoML 1.4 runs
  it, bounds neither the request head's bytes nor the time a client takes to send its head or body:
  a 50 MB header was buffered whole, and a client that connects and trickles (or sends nothing)
  kept its connection forever. The subclass counts the head as it arrives and answers **431** past
  ``limits.connection.max_header_bytes``; a fresh connection's head, and any head or body left
  incomplete at the end of a read, must complete within ``header_timeout_s``/``body_timeout_s``,
  else **408** and close; an idle keep-alive connection is closed after ``idle_timeout_s``. BentoML
  builds ``uvicorn.Config`` itself with ``http="auto"``, and its ``http`` config has no such options,
  so :func:`install_protocol` points uvicorn's ``auto`` protocol at the subclass in the worker
  process (the worker imports the service before it starts uvicorn); ``tests/serving/test_hardening.py``
  fails if the hook stops taking effect.
- **The request** (:class:`RequestLimits`, an ASGI middleware in front of every route, the mounted
  ``/qoe`` app included): a declared ``Content-Length`` over the route's limit
  (``limits.route_body_bytes``, else ``limits.max_body_bytes``) is **413** before a byte is read (so
  10,000 ABR rungs are never parsed on the event loop), a chunked body is cut off at the limit; a
  body nested deeper than ``limits.max_json_depth`` is **400** before any parser sees it (a ``[`` x
  8000 body was a ``RecursionError``, a 500). Every body is checked whatever its declared type:
  every endpoint here reads JSON, and BentoML parses a body of an unknown type as JSON.

The limits' shape is the delivery tiers' (:class:`~streamlab.streaming.delivery.settings.ConnectionLimits`);
so is the protocol (:mod:`streamlab.streaming.delivery.bounded_http`): one implementation for every tier.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from anyio import to_thread
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from streamlab.core.json_limits import json_depth
from streamlab.serving.settings import HttpLimitsSettings
from streamlab.streaming.delivery.bounded_http import BoundedHttpProtocol
from streamlab.streaming.delivery.settings import ConnectionLimits

log = logging.getLogger(__name__)

INLINE_SCAN_BYTES = 64 * 1024
"""Bodies smaller than this (every request but a beacon batch) are scanned on the event loop: < 2 ms."""


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class RequestLimits:
    """ASGI middleware: body bytes and JSON depth checked before the app sees the request.

    The body is read here (bounded in bytes; in time by :class:`ModelServerProtocol`'s body timer) and
    handed to the app as one message, so neither the handlers nor BentoML's own parsing see an
    unbounded or deep body.
    """

    BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, app: ASGIApp, limits: HttpLimitsSettings) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in self.BODY_METHODS:
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read_body(scope, receive)
        except _Refused as refused:
            log.info("%s [%s] refused %d: %s", scope["path"], scope["method"], refused.status, refused)
            await JSONResponse({"error": str(refused)}, status_code=refused.status)(scope, receive, send)
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: only http.disconnect is left to wait for

        await self.app(scope, replay, send)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        limit = self.limits.route_body_bytes.get(scope["path"], self.limits.max_body_bytes)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            raise _Refused(413, f"body of {declared} bytes; at most {limit} on {scope['path']} (limits)")
        chunks: list[bytes] = []
        size = 0
        while True:  # bounded in time by the connection's body timeout: past it, the next message is a disconnect
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Refused(400, "client disconnected before the body was complete")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _Refused(413, f"body over {limit} bytes on {scope['path']} (limits)")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        # Every body, whatever its declared type: BentoML parses an undeclared or unknown type as JSON.
        if body.count(b"[") + body.count(b"{") <= self.limits.max_json_depth:
            return body  # fewer openings than the limit cannot nest deeper: most requests stop here (~1 us)
        # ~30 ms a megabyte: a big body (a beacon batch) is scanned on a thread, not on the event loop.
        depth = json_depth(body) if len(body) < INLINE_SCAN_BYTES else await to_thread.run_sync(json_depth, body)
        if depth > self.limits.max_json_depth:
            raise _Refused(
                400, f"JSON body nested {depth} deep; at most {self.limits.max_json_depth} (limits.max_json_depth)"
            )
        return body


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


def _content_length(scope: Scope) -> int | None:
    raw = _header(scope, b"content-length")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None  # the HTTP parser has already refused a malformed length


class ModelServerProtocol(BoundedHttpProtocol):
    """The delivery tiers' bounded protocol (431, head/body timeouts, idle timeout), as the model server's.

    uvicorn builds one protocol per connection itself from a class, and BentoML asks for
    ``http="auto"``, so the limits are a class attribute that :func:`install_protocol` sets.
    """

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()


def install_protocol(limits: ConnectionLimits) -> None:
    """Make uvicorn's ``http="auto"`` (what BentoML's worker asks for) build :class:`ModelServerProtocol`."""
    import uvicorn.config

    ModelServerProtocol.limits = limits
    uvicorn.config.HTTP_PROTOCOLS["auto"] = f"{__name__}:{ModelServerProtocol.__name__}"
