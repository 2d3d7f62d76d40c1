"""One HTTP cache tier (used for both the regional shield and the edge), as an ASGI app.

Behaviour, in the order a request meets it:

* ``/_stats`` (JSON) and ``/metrics`` (Prometheus) are the tier's own; every other path is the
  upstream's URL space, forwarded unchanged. Cache control (purge) is not on this listener at
  all: it is :mod:`.cache_admin`, an authenticated app on a port of its own.
* Paths with dot segments, NUL bytes or backslashes are refused (400) before anything is
  forwarded: the origin refuses them too, this is defence in depth.
* GET/HEAD are looked up in a byte-bounded LRU keyed by the request target (plus the values of
  the request headers the upstream named in ``Vary``). A fresh entry answers at once (``HIT``);
  stale entries are never served.
* On a miss exactly one upstream fetch runs per key (single-flight: one ``asyncio`` task per key,
  so a client hanging up cancels neither the fetch nor the other waiters). The first request is
  the ``MISS``, the others are ``COALESCED``. The fill is cut-through (:mod:`.fill`): it reads
  the upstream at the upstream's speed, and every plain ``GET`` waiting on it streams the body
  from the bytes received so far at its own client's pace (ranges, conditionals and ``HEAD`` wait
  for the whole object and are answered from it).
* An LL-HLS blocking reload (``?_HLS_msn=&_HLS_part=``) whose own key is not cached is answered
  from the newest stored reload of the same playlist when that one is at least as new
  (:mod:`.blocking_reload`): a viewer behind the live edge costs the upstream nothing, so the
  origin sees one request per playlist version per tier. When that newest answer has expired
  too, the fill asks upstream for the version after it (never fetched by this tier) instead.
* Counting: ``HIT`` = the object was complete in the cache; ``COALESCED`` = it was being filled,
  and this request was served from that one fill, not forwarded. Both are offload (requests the
  upstream never saw); ``hit_ratio`` counts only the first, ``offload_ratio`` both, the way
  Varnish (waiting-list requests are hits) and nginx (``proxy_cache_lock`` waiters are ``HIT``)
  count a CDN's edge hit ratio.
* Misses always fetch the *full* object (no ``Range``/validators upstream); ranges, ``HEAD`` and
  conditional requests (``If-None-Match``, ``If-Modified-Since``: 304) are then answered from
  memory, exactly like the origin answers from disk.
* Requests with ``Authorization`` are cached by RFC 9111 §3.5: a response to one is stored, and a
  stored response is given to one, only when it says ``public``, ``s-maxage`` or
  ``must-revalidate``; otherwise the request goes upstream on its own (``PASS``).
* Storage honours the upstream's ``Cache-Control`` (``s-maxage``/``max-age`` minus ``Age``;
  ``no-store``/``private``/``no-cache`` are not stored). Cached statuses are 200 and, as negative
  caching, 404/410 for as long as their own ``Cache-Control`` allows (the origin sends
  ``max-age=1``). Everything else (5xx, redirects) is passed through and never stored.
* Objects above ``max_object_fraction`` of the capacity stream through uncached, and that URL
  goes straight upstream for ``hit_for_pass_s`` (no wasted fetch-and-drop on every request).
* Other methods (``OPTIONS`` preflights included) are passed through (``X-Cache: PASS``), so
  the upstream's CORS behaviour reaches the client unchanged; cached CORS headers stay correct
  because the origin states them on every response and sends ``Vary: Origin`` when they differ.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass
from functools import partial

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from streamlab.streaming.delivery.blocking_reload import BlockingReload, NewestVersions, blocking_reload
from streamlab.streaming.delivery.fetch_log import FetchLog
from streamlab.streaming.delivery.fill import Fill, FillHead, UpstreamFailed
from streamlab.streaming.delivery.http_semantics import (
    HOP_BY_HOP,
    RangeNotSatisfiable,
    forbids_sharing,
    if_range_allows_partial,
    is_not_modified,
    parse_http_date,
    parse_range,
    shareable_despite_authorization,
    shared_cache_ttl_s,
)
from streamlab.streaming.delivery.lru import ByteLRU, CachedResponse
from streamlab.streaming.delivery.settings import TierSettings, UpstreamSettings
from streamlab.streaming.delivery.stats import TierStats, prometheus_text, tier_registry

CACHEABLE_STATUSES = frozenset({200, 404, 410})
LOOKUP_METHODS = frozenset({"GET", "HEAD"})
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
HINTS_CAPACITY = 10_000
"""Bound on the per-URL ``Vary`` and hit-for-pass memories, so odd URLs cannot grow them forever."""

_NOT_FORWARDED = HOP_BY_HOP | {"host", "content-length"}
_NOT_FORWARDED_ON_FILL = _NOT_FORWARDED | {
    "range", "if-range", "if-none-match", "if-modified-since", "accept-encoding", "cookie",
}
"""A fill fetches the one shared copy: nothing partial, conditional or personal goes upstream."""
_NOT_STORED = HOP_BY_HOP | {"content-length", "date", "server", "age", "x-cache", "x-cache-tier", "x-cache-chain"}


@dataclass
class Fetched:
    """The outcome of one upstream fill: the response, and whether concurrent waiters may reuse it."""

    entry: CachedResponse
    shareable: bool
    stored: bool = False
    """Put in the cache: later requests are hits."""


class CacheTier:
    """A caching reverse proxy in front of ``upstream_url``; see the module docstring for the rules.

    ``transport`` replaces the network (e.g. ``httpx.ASGITransport(origin_app)`` in tests);
    ``clock`` is the monotonic clock TTLs are measured with. ``fallback_url`` (an edge's origin,
    behind its shield) takes the idempotent requests the upstream refuses or drops before
    answering (:meth:`_send`). ``fetch_log`` counts upstream fetches per part and playlist version
    (:mod:`.fetch_log`); pass the previous instance's to a restarted tier so its refetches are
    told apart.
    """

    def __init__(
        self,
        name: str,
        upstream_url: str,
        settings: TierSettings,
        upstream: UpstreamSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
        fallback_url: str | None = None,
        fetch_log: FetchLog | None = None,
    ) -> None:
        self.name = name
        self.upstream_url = upstream_url.rstrip("/")
        self.fallback_url = fallback_url.rstrip("/") if fallback_url else None
        self.settings = settings
        self.upstream = upstream or UpstreamSettings()
        self.clock = clock
        self.store = ByteLRU(settings.capacity_bytes, clock)
        self.max_object_bytes = int(settings.capacity_bytes * settings.max_object_fraction)
        self.stats = TierStats()
        self.registry = tier_registry(name, self.stats, self.store)
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._inflight: dict[Hashable, tuple[Fill, asyncio.Task[Fetched | None]]] = {}
        self._vary_hints: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        self._pass_until_s: OrderedDict[str, float] = OrderedDict()
        self._newest_versions = NewestVersions(HINTS_CAPACITY)
        self.fetch_log = fetch_log or FetchLog()
        self._generation = self.fetch_log.new_generation()

    # ---- ASGI ---------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise RuntimeError(f"cache tier {self.name!r} serves HTTP only, not {scope['type']!r}")
        response = await self.handle(Request(scope, receive))
        await response(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def client(self) -> httpx.AsyncClient:
        """The keep-alive pool towards the upstream, created in the serving event loop."""
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport,
                timeout=httpx.Timeout(self.upstream.timeout_s),
                limits=httpx.Limits(
                    max_connections=self.upstream.max_connections,
                    max_keepalive_connections=self.upstream.max_keepalive_connections,
                ),
                headers={"accept-encoding": "identity", "user-agent": f"streamlab-{self.name}"},
                follow_redirects=False,
                trust_env=False,  # never route loopback traffic through a proxy from the environment
            )
        return self._client

    # ---- request handling -----------------------------------------------------------------------
    async def handle(self, request: Request) -> Response:
        path: str = request.scope["path"]  # percent-decoded (``request.url.path`` is not, for raw targets)
        if path == "/_stats":
            return JSONResponse(self.snapshot(), headers={"Cache-Control": "no-store"})
        if path == "/metrics":
            return Response(prometheus_text(self.registry), media_type="text/plain; version=0.0.4; charset=utf-8",
                            headers={"Cache-Control": "no-store"})
        self.stats.requests += 1
        if "\x00" in path or "\\" in path or any(s in (".", "..") for s in path.split("/")):
            return self._local_error(400, f"bad request: path {path!r} has dot segments, NUL or backslash")
        raw_path: bytes = request.scope.get("raw_path") or path.encode()
        query: bytes = request.scope.get("query_string", b"")
        target = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")

        if request.method not in LOOKUP_METHODS:
            return await self._pass(request, target)
        authorized = "authorization" in request.headers
        pass_until_s = self._pass_until_s.get(target)
        if pass_until_s is not None and self.clock() < pass_until_s:
            return await self._pass(request, target)

        key = (target, self._vary_values(request, self._vary_hints.get(target, ())))
        entry = self.store.get(key)
        reload = blocking_reload(target) if entry is None else None  # parsed once, and only on a miss
        if reload is not None:
            entry = self._newer_version(request, target, reload)
        if entry is not None:
            if authorized and not shareable_despite_authorization(entry.header("cache-control")):
                return await self._pass(request, target)
            self.stats.hits += 1
            return self._respond(request, entry, "HIT")

        # A blocking reload a stored (now expired) newer version covered asks for the version after that
        # one instead, so no version is fetched twice (:meth:`.NewestVersions.catching_up`).
        upstream_target = (self._newest_versions.catching_up(reload) if reload is not None else None) or target
        if upstream_target != target:
            key = (upstream_target, self._vary_values(request, self._vary_hints.get(upstream_target, ())))
        inflight = self._inflight.get(key)
        if inflight is None:
            outcome = "MISS"
            self.stats.misses += 1
            fill = Fill()
            task = asyncio.get_running_loop().create_task(self._fill(fill, upstream_target, self._fill_headers(request)))
            self._inflight[key] = (fill, task)
            task.add_done_callback(partial(self._fill_done, key))
        else:
            outcome = "COALESCED"
            self.stats.coalesced += 1
            fill, task = inflight
        try:
            head = await fill.head()
            if head is None:  # too large to cache: streamed straight through instead
                return await self._pass(request, target)
            if outcome == "COALESCED" and not (
                head.shareable and self._vary_matches(request, head.vary)
                and (not authorized or shareable_despite_authorization(dict(head.headers).get("cache-control")))
            ):
                return await self._pass(request, target)
            if self._streams_from_fill(request, head):
                return self._stream(fill, head, outcome)
            fetched = await asyncio.shield(task)
        except UpstreamFailed as exc:
            self.stats.errors += 1
            return self._local_error(exc.status, f"upstream failed: {exc}")
        if fetched is None:
            return await self._pass(request, target)
        return self._respond(request, fetched.entry, outcome)

    def snapshot(self) -> dict[str, object]:
        return self.stats.snapshot(self.name, self.store) | {"upstream": self.upstream_url,
                                                             "upstream_fetches": self.fetch_log.snapshot()}

    def purge(self, prefix: str) -> int:
        """Drop cached entries whose target starts with ``prefix`` (e.g. after republishing a title).

        Fills in flight under the prefix finish for the requests already waiting on them, but
        store nothing (their upstream answer may predate the purge) and take no new waiters:
        the next request starts a fill of its own.
        """
        for key in [key for key in self._inflight if key[0].startswith(prefix)]:  # type: ignore[index]
            fill, _ = self._inflight.pop(key)
            fill.storable = False
        return self.store.purge(lambda key: key[0].startswith(prefix))  # type: ignore[index]

    # ---- upstream fill (single-flight) ----------------------------------------------------------
    async def _fill(self, fill: Fill, target: str, headers: list[tuple[str, str]]) -> Fetched | None:
        """Fetch ``target`` once into ``fill`` at the upstream's speed, then store it if allowed."""
        try:
            return await self._fetch_into(fill, target, headers)
        except UpstreamFailed as exc:
            fill.fail(exc)
            raise
        finally:
            fill.finish()

    async def _fetch_into(self, fill: Fill, target: str, headers: list[tuple[str, str]]) -> Fetched | None:
        self.stats.upstream_requests += 1
        logged = self.fetch_log.started(target, self._generation)
        fetched = None
        try:
            fetched = await self._fetch_and_store(fill, target, headers)
            return fetched
        finally:
            stored = fetched is not None and fetched.stored
            self.fetch_log.finished(logged, stored, fetched.entry.ttl_s if fetched is not None else None)

    async def _fetch_and_store(self, fill: Fill, target: str, headers: list[tuple[str, str]]) -> Fetched | None:
        try:
            response = await self._send("GET", target, headers)
        except httpx.TimeoutException as exc:
            raise UpstreamFailed(504, f"{self.upstream_url} timed out: {exc!r}") from exc
        except httpx.HTTPError as exc:
            raise UpstreamFailed(502, f"{self.upstream_url} unreachable: {exc!r}") from exc
        try:
            length = response.headers.get("content-length")
            content_length = int(length) if length is not None and length.isdigit() else None
            if content_length is not None and content_length > self.max_object_bytes:
                self._remember_pass(target)
                return None
            cache_control = response.headers.get("cache-control")
            vary_names = tuple(sorted({v.strip().lower() for v in ",".join(response.headers.get_list("vary")).split(",") if v.strip()}))
            stored_headers = [(k.lower(), v) for k, v in response.headers.multi_items() if k.lower() not in _NOT_STORED]
            if "x-cache-chain" in response.headers:
                stored_headers.append(("x-cache-chain", response.headers["x-cache-chain"]))
            request_headers = {k.lower(): v for k, v in headers}
            for_everyone = "authorization" not in request_headers or shareable_despite_authorization(cache_control)
            head = FillHead(
                status=response.status_code,
                headers=stored_headers,
                content_length=content_length,
                shareable=not forbids_sharing(cache_control) and "*" not in vary_names and for_everyone,
                vary=tuple((name, request_headers.get(name, "")) for name in vary_names),
            )
            fill.set_head(head)
            async for chunk in response.aiter_raw():
                if fill.received_bytes + len(chunk) > self.max_object_bytes:
                    self._remember_pass(target)  # no Content-Length, and more than fits: streaming readers are cut off, the next go PASS
                    fill.fail(UpstreamFailed(502, f"{target} outgrew the cache's object limit mid-body"))
                    return None
                fill.append(chunk)
            if content_length is not None and fill.received_bytes != content_length:
                raise UpstreamFailed(502, f"{self.upstream_url} sent {fill.received_bytes} of {content_length} bytes")
        except httpx.HTTPError as exc:
            raise UpstreamFailed(502, f"{self.upstream_url} broke off the body: {exc!r}") from exc
        finally:
            self.stats.bytes_from_upstream += fill.received_bytes
            await response.aclose()

        entry = CachedResponse(
            status=head.status,
            headers=head.headers,
            body=b"".join(fill.chunks),
            stored_at_s=self.clock(),
            ttl_s=shared_cache_ttl_s(cache_control, _parse_age(response.headers.get("age")), self.settings.default_ttl_s),
            initial_age_s=_parse_age(response.headers.get("age")),
            vary=head.vary,
        )
        storable = (
            entry.status in CACHEABLE_STATUSES
            and entry.ttl_s > 0
            and head.shareable
            and fill.storable
            and "set-cookie" not in response.headers
        )
        stored = False
        if storable:
            _remember(self._vary_hints, target, vary_names)
            stored = self.store.put((target, tuple(value for _, value in entry.vary)), entry)
            if stored and entry.status == 200:
                reload = blocking_reload(target)
                if reload is not None:
                    self._newest_versions.stored(reload, target)
        return Fetched(entry, shareable=head.shareable, stored=stored)

    def _newer_version(self, request: Request, target: str, reload: BlockingReload) -> CachedResponse | None:
        """For a blocking playlist reload whose own key is not cached: the stored answer to a newer
        one of the same playlist, which satisfies it too (:mod:`.blocking_reload`), else ``None``."""
        newer = self._newest_versions.satisfying(reload)
        if newer is None or newer == target:
            return None
        return self.store.get((newer, self._vary_values(request, self._vary_hints.get(newer, ()))))

    def _fill_done(self, key: Hashable, task: asyncio.Task[Fetched | None]) -> None:
        inflight = self._inflight.get(key)
        if inflight is not None and inflight[1] is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved here, so a fill nobody waits for any more logs no warning

    def _fill_headers(self, request: Request) -> list[tuple[str, str]]:
        """The leader's headers minus what would make the answer partial or conditional."""
        headers = [(k, v) for k, v in request.headers.items() if k not in _NOT_FORWARDED_ON_FILL]
        return headers + [("via", f"1.1 streamlab-{self.name}")]

    def _remember_pass(self, target: str) -> None:
        _remember(self._pass_until_s, target, self.clock() + self.settings.hit_for_pass_s)

    @staticmethod
    def _vary_values(request: Request, names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(request.headers.get(name, "") for name in names)

    @staticmethod
    def _vary_matches(request: Request, vary: tuple[tuple[str, str], ...]) -> bool:
        return all(request.headers.get(name, "") == value for name, value in vary)

    # ---- answering --------------------------------------------------------------------------
    def _respond(self, request: Request, entry: CachedResponse, outcome: str) -> Response:
        """Answer from a stored (or just fetched) full response: 304, 206, 416, HEAD or the body."""
        headers = [(k, v) for k, v in entry.headers if k != "x-cache-chain"]
        headers += self._cache_headers(outcome, entry.header("x-cache-chain"))
        headers.append(("age", str(int(entry.age_s(self.clock())))))
        status, body = entry.status, entry.body
        if status == 200:
            etag = entry.header("etag")
            if is_not_modified(request.headers.get("if-none-match"), request.headers.get("if-modified-since"),
                               etag, parse_http_date(entry.header("last-modified"))):
                kept = [(k, v) for k, v in headers if k not in ("content-type", "accept-ranges")]
                return _raw_response(304, kept, b"", head=True)
            if request.method == "GET" and if_range_allows_partial(
                request.headers.get("if-range"), etag, entry.header("last-modified")
            ):
                try:
                    byte_range = parse_range(request.headers.get("range"), len(body))
                except RangeNotSatisfiable as exc:
                    kept = [(k, v) for k, v in headers if k not in ("content-type", "cache-control")]
                    kept += [("content-range", exc.content_range), ("cache-control", "no-store"), ("content-length", "0")]
                    return _raw_response(416, kept, b"")
                if byte_range is not None:
                    status, body = 206, body[byte_range.start : byte_range.end + 1]
                    headers.append(("content-range", byte_range.content_range))
        head = request.method == "HEAD"
        if not head:
            self.stats.bytes_served += len(body)
        return _raw_response(status, headers + [("content-length", str(len(body)))], body, head=head)

    @staticmethod
    def _streams_from_fill(request: Request, head: FillHead) -> bool:
        """Plain full-body GETs of a 200 stream from the fill; the rest wait for it.

        Bodies of unknown length stream too (chunked, as they arrived): a live segment sent while
        it is being written (LL-DASH) must reach every coalesced viewer chunk by chunk, not once
        it is complete. (An unknown-length body that outgrows the object limit then cuts its
        streaming readers off; our origins send ``Content-Length`` on everything but live segments
        in progress, which are small.)
        """
        return (
            request.method == "GET"
            and head.status == 200
            and not any(h in request.headers for h in ("range", "if-none-match", "if-modified-since"))
        )

    def _stream(self, fill: Fill, head: FillHead, outcome: str) -> Response:
        """Answer from a fill still in progress: the head now, body bytes as the fill receives them.

        Should the upstream break off after this, the client sees a body shorter than its
        ``Content-Length``, or a chunked body without its last chunk (the connection is aborted),
        as with any cut-through proxy.
        """
        headers = [(k, v) for k, v in head.headers if k != "x-cache-chain"]
        headers += self._cache_headers(outcome, dict(head.headers).get("x-cache-chain"))
        headers.append(("age", "0"))
        if head.content_length is not None:
            headers.append(("content-length", str(head.content_length)))

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in fill.body():
                    self.stats.bytes_served += len(chunk)
                    yield chunk
            except UpstreamFailed:
                self.stats.errors += 1
                raise  # aborts the connection: the client sees a short body, never a silently cut file

        streamed = StreamingResponse(body(), status_code=head.status)
        streamed.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        return streamed

    def _cache_headers(self, outcome: str, upstream_chain: str | None) -> list[tuple[str, str]]:
        chain = f"{upstream_chain}, {self.name}={outcome}" if upstream_chain else f"{self.name}={outcome}"
        return [("x-cache", outcome), ("x-cache-tier", self.name), ("x-cache-chain", chain)]

    async def _pass(self, request: Request, target: str) -> Response:
        """Forward the request as is and stream the answer back, storing nothing."""
        self.stats.passes += 1
        self.stats.upstream_requests += 1
        self.fetch_log.finished(self.fetch_log.started(target, self._generation, passed=True), stored=False)
        headers = [(k, v) for k, v in request.headers.items() if k not in _NOT_FORWARDED]
        headers.append(("via", f"1.1 streamlab-{self.name}"))
        has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
        try:
            response = await self._send(request.method, target, headers, request.stream() if has_body else None)
        except httpx.TimeoutException as exc:
            self.stats.errors += 1
            return self._local_error(504, f"upstream failed: {self.upstream_url} timed out: {exc!r}")
        except httpx.HTTPError as exc:
            self.stats.errors += 1
            return self._local_error(502, f"upstream failed: {self.upstream_url} unreachable: {exc!r}")
        out = [(k.lower(), v) for k, v in response.headers.multi_items() if k.lower() not in _NOT_STORED or k.lower() == "content-length"]
        out += self._cache_headers("PASS", response.headers.get("x-cache-chain"))
        streamed = StreamingResponse(self._relay(response), status_code=response.status_code,
                                     background=BackgroundTask(response.aclose))
        streamed.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in out]
        return streamed

    async def _send(self, method: str, target: str, headers: list[tuple[str, str]],
                    content: AsyncIterator[bytes] | None = None) -> httpx.Response:
        """Send one request upstream and return its head (the body streams).

        With a ``fallback_url``, an idempotent request without a body that the upstream refused
        (nothing listening: a shield restarting) or dropped before any byte of an answer goes to
        the fallback once, as a CDN edge goes to the origin while its shield is down: the viewers
        see no error and do not stall, where retrying them against a dead shield with hls.js's
        back-off (1 s, 2 s, 3 s ...) would leave the whole crowd rebuffering until it returns.
        Nothing of an answer was received, so nothing is sent twice; a slow upstream (a timeout)
        is not a dead one and fails as before.
        """
        client = self.client()
        try:
            return await client.send(client.build_request(method, self.upstream_url + target, headers=headers,
                                                          content=content), stream=True)
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            if self.fallback_url is None or content is not None or method not in _IDEMPOTENT:
                raise
        self.stats.failovers += 1
        return await client.send(client.build_request(method, self.fallback_url + target, headers=headers), stream=True)

    async def _relay(self, response: httpx.Response) -> AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_raw():
                self.stats.bytes_from_upstream += len(chunk)
                self.stats.bytes_served += len(chunk)
                yield chunk
        finally:  # also when the client hangs up mid-body: the pooled connection must come back
            await response.aclose()

    def _local_error(self, status: int, message: str) -> Response:
        return PlainTextResponse(
            message + "\n", status, headers={"Cache-Control": "no-store", "X-Cache-Tier": self.name}
        )


def _raw_response(status: int, headers: list[tuple[str, str]], body: bytes, head: bool = False) -> Response:
    """A response with exactly these headers (duplicates such as several ``Vary`` kept)."""
    response = Response(b"" if head else body, status_code=status)
    response.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    return response


def _parse_age(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 0.0
    except ValueError:
        return 0.0


def _remember(memory: OrderedDict, key: str, value: object) -> None:
    memory[key] = value
    memory.move_to_end(key)
    while len(memory) > HINTS_CAPACITY:
        memory.popitem(last=False)
