"""The origin: published titles, the catalog API and the player page, straight from disk.

URL scheme (the contract the player and the tiers rely on; the tiers forward it unchanged):

``GET /media/<title_id>/<path>``   manifests, init and media segments, keys (ranges, ETag, 304)
``GET /api/titles``                published titles, newest first: a JSON list of ``TitleRecord``
``GET /api/titles/<title_id>``     one ``TitleRecord`` (404 when not published)
``GET /healthz``                   liveness (``no-store``)
``GET /``                          the player page (``<player_dir>/index.html``)
``GET /player/<path>``             the player's static folder (JS, CSS, ``vendor/``)
``/config.json``, ``/browse``, ``/_player_metrics``, ``/metrics``: the viewer pages
(:mod:`streamlab.streaming.catalog_page.routes`)

Every response states its cache policy (``configs/delivery.yaml`` ``origin.cache_control``) so
the tiers in front need no knowledge of file types.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from streamlab.core import project
from streamlab.core.errors import StreamlabError
from streamlab.streaming.catalog import TITLE_ID_PATTERN, list_titles, read_title
from streamlab.streaming.catalog_page.routes import viewer_routes
from streamlab.streaming.delivery.cors import CorsMiddleware
from streamlab.streaming.delivery.file_response import file_response
from streamlab.streaming.delivery.http_semantics import is_not_modified
from streamlab.streaming.delivery.media_types import CacheClass, content_type, media_cache_class
from streamlab.streaming.delivery.safe_paths import NotServed, UnsafePath, resolve_under
from streamlab.streaming.delivery.settings import DeliverySettings, OriginSettings, load_delivery_settings

METHODS = ["GET", "HEAD"]


class Origin:
    """Request handlers bound to one media root and one player folder."""

    def __init__(self, settings: OriginSettings, media_root: Path, player_dir: Path) -> None:
        self.settings = settings
        self.cache_control = settings.cache_control
        self.media_root = media_root
        self.player_dir = player_dir

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
        return await self._serve_file(request, self.media_root, relative, cache_control)

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
    settings: DeliverySettings | None = None, media_root: Path | None = None, player_dir: Path | None = None
) -> CorsMiddleware:
    """The origin as an ASGI app; defaults: ``configs/delivery.yaml`` and the project's media root."""
    settings = settings or load_delivery_settings()
    media_root = (media_root or project.media_root()).resolve()
    player_dir = (player_dir or project.resolve(settings.origin.player_dir)).resolve()
    origin = Origin(settings.origin, media_root, player_dir)
    app = Starlette(
        routes=[
            Route("/", origin.player_index, methods=METHODS),
            Route("/player/{path:path}", origin.player_static, methods=METHODS),
            Route("/media/{path:path}", origin.media, methods=METHODS),
            Route("/api/titles", origin.titles, methods=METHODS),
            Route("/api/titles/{title_id}", origin.title, methods=METHODS),
            Route("/healthz", origin.health, methods=METHODS),
            *viewer_routes(media_root),
        ],
    )
    return CorsMiddleware(app, settings.origin.cors)
