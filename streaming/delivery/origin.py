"""The origin: published titles, the catalog API and the player page, straight from disk.

URL scheme (the contract the player and the tiers rely on; the tiers forward it unchanged):

``GET /media/<title_id>/<path>``   manifests, init and media segments, keys (ranges, ETag, 304); master
                                   playlists and MPDs capped per ``X-Streamlab-Device`` (the edge hook's,
                                   ``configs/edge.yaml`` ``manifests``) and steered when steering is on
``GET /api/titles``                published titles, newest first: a JSON list of ``TitleRecord``
``GET /api/titles/<title_id>``     one ``TitleRecord`` (404 when not published)
``GET /live/<channel>/<path>``     reverse proxy to the channel's live origin (LL-HLS), query kept
``GET /healthz``                   liveness (``no-store``)
``GET /``                          the player page (``<player_dir>/index.html``)
``GET /player/<path>``             the player's static folder (JS, CSS, ``vendor/``)
``/config.json``, ``/browse``, ``/_player_metrics``, ``/metrics``: the viewer pages
(:mod:`streamlab.streaming.catalog_page.routes`)

Every response states its cache policy (``configs/delivery.yaml`` ``origin.cache_control``) so
the tiers in front need no knowledge of file types. Live answers keep the live origin's own
policy (short playlists, longer answers to blocking requests, immutable parts), which is why the
tiers can cache and coalesce them without knowing what live is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from streamlab.core import project
from streamlab.core.errors import StreamlabError
from streamlab.streaming.catalog import TITLE_ID_PATTERN, list_titles, read_title
from streamlab.streaming.catalog_page.routes import viewer_routes
from streamlab.streaming.delivery.cors import CorsMiddleware
from streamlab.streaming.delivery.file_response import file_response
from streamlab.streaming.delivery.http_semantics import HOP_BY_HOP, is_not_modified
from streamlab.streaming.delivery.media_types import CacheClass, content_type, media_cache_class
from streamlab.streaming.delivery.safe_paths import NotServed, UnsafePath, resolve_under
from streamlab.streaming.delivery.settings import DeliverySettings, LiveProxySettings, OriginSettings, load_delivery_settings
from streamlab.streaming.edge.manifests import VARY, is_rewritten, rewrite
from streamlab.streaming.edge.settings import EdgeSettings, load_edge_settings
from streamlab.streaming.live.settings import CHANNEL_PATTERN

METHODS = ["GET", "HEAD"]
_NOT_RELAYED = HOP_BY_HOP | {"host", "content-length", "date", "server"}
_NOT_RELAYED_BACK = HOP_BY_HOP | {"date", "server"}


class LiveProxy:
    """``/live/<channel>/<path>``: forward to the channel's live origin, streaming the answer back.

    Channels announce themselves through ``<state_dir>/<channel>/state.json`` (``origin_url``),
    which ``streamlab live start`` writes; so the origin needs no configuration per channel and a
    channel started after the stack is served at once. The live origin's ``Cache-Control`` is
    passed on untouched (the tiers' TTLs come from it); its CORS headers are dropped, because this
    origin's own CORS layer states them (two ``Access-Control-Allow-Origin`` headers fail in browsers).

    A channel's master playlist and MPD are capped per device class like a title's (``edge``: the
    same rewrite, the same ``Vary``), so a phone never gets a live rung its class cannot use; parts,
    segments and media playlists stream through untouched.
    """

    def __init__(self, settings: LiveProxySettings, edge: EdgeSettings | None = None) -> None:
        self.settings = settings
        self.edge = edge
        self.state_dir = (settings.state_dir or project.state_dir() / "live").resolve()
        self._client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        if self._client is None:  # created in the serving loop
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.settings.upstream_timeout_s),
                limits=httpx.Limits(max_connections=self.settings.max_connections,
                                    max_keepalive_connections=self.settings.max_connections),
                trust_env=False, follow_redirects=False,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @staticmethod
    def _error(status: int, message: str) -> Response:
        return PlainTextResponse(f"{message}\n", status, headers={"Cache-Control": "no-store"})

    def _origin_url(self, channel: str) -> str | Response:
        try:
            state = json.loads((self.state_dir / channel / "state.json").read_text())
        except FileNotFoundError:
            return self._error(404, f"not found: live channel {channel!r} is unknown (never started here)")
        except (OSError, ValueError):
            return self._error(503, f"service unavailable: live channel {channel!r} has an unreadable state file")
        if not isinstance(state, dict) or not state.get("origin_url") or state.get("state") == "stopped":
            return self._error(404, f"not found: live channel {channel!r} is not running")
        return str(state["origin_url"]).rstrip("/")

    async def handle(self, request: Request) -> Response:
        channel: str = request.path_params["channel"]
        if not CHANNEL_PATTERN.fullmatch(channel):
            return self._error(400, f"bad request: {channel!r} is not a channel name")
        upstream = self._origin_url(channel)
        if isinstance(upstream, Response):
            return upstream
        raw_path: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
        query: bytes = request.scope.get("query_string", b"")
        target = upstream + raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        headers = [(k, v) for k, v in request.headers.items() if k not in _NOT_RELAYED]
        client = self.client()
        try:
            response = await client.send(client.build_request(request.method, target, headers=headers), stream=True)
        except httpx.TimeoutException:
            return self._error(504, f"gateway timeout: live channel {channel!r} did not answer within {self.settings.upstream_timeout_s} s")
        except httpx.HTTPError as exc:
            return self._error(502, f"bad gateway: live channel {channel!r} is unreachable at {upstream} ({type(exc).__name__})")
        out = [(k.lower(), v) for k, v in response.headers.multi_items()
               if k.lower() not in _NOT_RELAYED_BACK and not k.lower().startswith("access-control-")]
        path: str = request.path_params["path"]
        if self.edge is not None and request.method == "GET" and response.status_code == 200 and is_rewritten(path):
            return await self._device_manifest(request, response, out, channel, path)
        streamed = StreamingResponse(_relay(response), status_code=response.status_code, background=BackgroundTask(response.aclose))
        streamed.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in out]
        return streamed

    async def _device_manifest(self, request: Request, response: httpx.Response, headers: list[tuple[str, str]],
                               channel: str, path: str) -> Response:
        """The channel's master playlist or MPD as the edge hook's device class (and region) gets it.

        Read whole (a few hundred bytes, never a blocking reload), rewritten by the rule VOD titles
        use, and sent with the live origin's own ``Cache-Control`` plus ``Vary`` on the hook's headers.
        """
        assert self.edge is not None
        try:
            body = await response.aread()
        except httpx.HTTPError as exc:
            return self._error(502, f"bad gateway: live channel {channel!r} broke off its {path} ({type(exc).__name__})")
        finally:
            await response.aclose()
        kept = [(k, v) for k, v in headers if k not in ("content-length", "etag", "vary", "content-encoding")]
        try:
            text = rewrite(body.decode(), path.rsplit("/", 1)[-1], request.headers.get("x-streamlab-device"),
                           request.headers.get("x-streamlab-region"), f"/live/{channel}/", self.edge.manifests.caps,
                           self.edge.steering)
        except (ValueError, SyntaxError) as exc:  # UnicodeDecodeError is a ValueError; ParseError a SyntaxError
            return self._error(502, f"bad gateway: live channel {channel!r} sent a {path} that cannot be rewritten: {exc}")
        out = text.encode()
        answer = Response(b"" if request.method == "HEAD" else out, status_code=200)
        answer.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in kept] + [
            (b"vary", VARY.encode()), (b"content-length", str(len(out)).encode())]
        return answer


async def _relay(response: httpx.Response) -> AsyncIterator[bytes]:
    """The upstream body as it arrives (a part still being written streams through, not buffered)."""
    try:
        async for chunk in response.aiter_raw():
            yield chunk
    finally:  # the client hung up mid-body: the connection goes back to the pool all the same
        await response.aclose()


class Origin:
    """Request handlers bound to one media root and one player folder."""

    def __init__(self, settings: OriginSettings, media_root: Path, player_dir: Path, edge: EdgeSettings | None = None) -> None:
        self.settings = settings
        self.cache_control = settings.cache_control
        self.media_root = media_root
        self.player_dir = player_dir
        self.edge = edge if edge is not None and edge.manifests.enabled else None
        """Device-capped (and steered) manifests per ``configs/edge.yaml``; ``None``: files as published."""

    def _not_found(self, message: str) -> Response:
        return PlainTextResponse(f"not found: {message}\n", 404, headers={"Cache-Control": self.cache_control.not_found})

    @staticmethod
    def _bad_request(message: str) -> Response:
        return PlainTextResponse(f"bad request: {message}\n", 400, headers={"Cache-Control": "no-store"})

    async def _serve_file(self, request: Request, root: Path, relative: str, cache_control: str) -> Response:
        try:
            path = resolve_under(root, relative)
        except UnsafePath as exc:
            return self._bad_request(str(exc))
        except NotServed:
            return self._not_found(request.url.path)
        return await file_response(
            request, path, content_type=content_type(path.name), cache_control=cache_control,
            chunk_bytes=self.settings.read_chunk_bytes,
        )

    async def media(self, request: Request) -> Response:
        relative: str = request.path_params["path"]
        title_id = relative.split("/", 1)[0]
        if not TITLE_ID_PATTERN.match(title_id) and not title_id.startswith("."):
            return self._bad_request(f"title id {title_id!r} is not valid")
        cache_class = media_cache_class(relative)
        cache_control = {
            CacheClass.MANIFEST: self.cache_control.manifest,
            CacheClass.SEGMENT: self.cache_control.segment,
            CacheClass.KEY: self.cache_control.key,
        }[cache_class]
        if self.edge is not None and is_rewritten(relative):
            return await self._device_manifest(request, relative, cache_control)
        return await self._serve_file(request, self.media_root, relative, cache_control)

    async def _device_manifest(self, request: Request, relative: str, cache_control: str) -> Response:
        """A master playlist or MPD as the edge hook's device class (and region) gets it.

        The answer depends on the hook's request headers, so it says ``Vary`` on them: the tiers
        in front keep one copy per (device class, region) instead of handing a phone the TV's copy.
        """
        assert self.edge is not None
        device_class = request.headers.get("x-streamlab-device")
        if device_class is None:  # not through a hooked edge: the file as published (ranges, validators), still keyed
            response = await self._serve_file(request, self.media_root, relative, cache_control)
            response.headers.append("Vary", VARY)
            return response
        try:
            path = resolve_under(self.media_root, relative)
            text = await anyio.to_thread.run_sync(path.read_text)
        except UnsafePath as exc:
            return self._bad_request(str(exc))
        except (NotServed, OSError, UnicodeDecodeError):
            return self._not_found(request.url.path)
        media_dir = "/media/" + relative.rsplit("/", 1)[0] + "/"
        try:
            body = rewrite(text, path.name, device_class, request.headers.get("x-streamlab-region"),
                           media_dir, self.edge.manifests.caps, self.edge.steering).encode()
        except (ValueError, SyntaxError) as exc:  # a published manifest that does not parse (ParseError is a SyntaxError)
            return PlainTextResponse(f"service unavailable: {relative} cannot be rewritten: {exc}\n", 503,
                                     headers={"Cache-Control": "no-store"})
        etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
        headers = {"Cache-Control": cache_control, "ETag": etag, "Vary": VARY, "Content-Type": content_type(path.name)}
        if is_not_modified(request.headers.get("if-none-match"), None, etag, None):
            return Response(status_code=304, headers={k: v for k, v in headers.items() if k != "Content-Type"})
        headers["Content-Length"] = str(len(body))
        return Response(b"" if request.method == "HEAD" else body, headers=headers)

    async def player_index(self, request: Request) -> Response:
        if not (self.player_dir / "index.html").is_file():
            return self._not_found(f"the player page is not built yet ({self.player_dir / 'index.html'} is missing)")
        return await self._serve_file(request, self.player_dir, "index.html", self.cache_control.player)

    async def player_static(self, request: Request) -> Response:
        if not self.player_dir.is_dir():
            return self._not_found(f"the player folder {self.player_dir} does not exist yet")
        return await self._serve_file(request, self.player_dir, request.path_params["path"], self.cache_control.player)

    async def titles(self, request: Request) -> Response:
        records = await anyio.to_thread.run_sync(list_titles, self.media_root)
        body = [record.model_dump(mode="json") for record in records]
        return _json_with_etag(request, body, self.cache_control.catalog)

    async def title(self, request: Request) -> Response:
        title_id: str = request.path_params["title_id"]
        if not TITLE_ID_PATTERN.match(title_id):
            return JSONResponse({"error": f"title id {title_id!r} is not valid"}, 400, headers={"Cache-Control": "no-store"})
        try:
            record = await anyio.to_thread.run_sync(read_title, self.media_root, title_id)
        except (StreamlabError, ValueError, OSError):  # missing or unreadable: not published, for viewers
            return JSONResponse(
                {"error": f"title {title_id!r} is not published"}, 404, headers={"Cache-Control": self.cache_control.not_found}
            )
        return _json_with_etag(request, record.model_dump(mode="json"), self.cache_control.catalog)

    async def health(self, request: Request) -> Response:
        return JSONResponse(
            {"status": "ok", "media_root": str(self.media_root), "media_root_exists": self.media_root.is_dir()},
            headers={"Cache-Control": self.cache_control.health},
        )


def _json_with_etag(request: Request, payload: object, cache_control: str) -> Response:
    """JSON with a content hash ETag, so players and tiers can revalidate the catalog cheaply."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
    headers = {"Cache-Control": cache_control, "ETag": etag}
    if is_not_modified(request.headers.get("if-none-match"), None, etag, None):  # no Last-Modified: ETag only
        return Response(status_code=304, headers=headers)
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        headers["Content-Type"] = "application/json"
        return Response(status_code=200, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def create_origin_app(
    settings: DeliverySettings | None = None, media_root: Path | None = None, player_dir: Path | None = None,
    edge: EdgeSettings | None = None,
) -> CorsMiddleware:
    """The origin as an ASGI app; defaults: ``configs/delivery.yaml``, ``configs/edge.yaml`` and the project's media root."""
    settings = settings or load_delivery_settings()
    media_root = (media_root or project.media_root()).resolve()
    player_dir = (player_dir or project.source_path(settings.origin.player_dir)).resolve()
    origin = Origin(settings.origin, media_root, player_dir, edge or load_edge_settings())
    live = LiveProxy(settings.origin.live, origin.edge)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await live.aclose()

    app = Starlette(
        lifespan=lifespan,
        routes=[
            Route("/", origin.player_index, methods=METHODS),
            Route("/player/{path:path}", origin.player_static, methods=METHODS),
            Route("/media/{path:path}", origin.media, methods=METHODS),
            Route("/live/{channel}/{path:path}", live.handle, methods=METHODS),
            Route("/api/titles", origin.titles, methods=METHODS),
            Route("/api/titles/{title_id}", origin.title, methods=METHODS),
            Route("/healthz", origin.health, methods=METHODS),
            *viewer_routes(media_root),
        ],
    )
    return CorsMiddleware(app, settings.origin.cors)
