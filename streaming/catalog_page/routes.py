"""Origin routes for the viewer pages (mounted by :func:`streamlab.streaming.delivery.origin.create_origin_app`).

``GET /config.json``           the player page's runtime config: serving URL, ABR budget, BOLA
                               constants, telemetry dimensions, and the signed viewer (``no-store``)
``GET /browse``                the catalog page for ``?viewer_token=`` (signed out: popular titles)
``POST /_player_metrics``      a player's decision counters since its last post (deltas)
``GET /metrics``               the origin's Prometheus counters (players' ABR sources, catalog fallbacks)

Everything here is personal or live, so it is ``no-store``: the cache tiers pass it through.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import anyio
import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from streamlab.models.abr.policies.bola import MINIMUM_BUFFER_S, TARGET_BUFFER_S
from streamlab.streaming.catalog import list_titles
from streamlab.streaming.catalog_page.metrics import DECISION_SOURCES, FALLBACK_REASONS, OriginMetrics
from streamlab.streaming.catalog_page.page import render_catalog_page, render_error_page
from streamlab.streaming.catalog_page.recommendations import catalog_for
from streamlab.streaming.catalog_page.settings import CatalogPageSettings, load_catalog_settings
from streamlab.streaming.catalog_page.viewer_identity import Viewer, ViewerSigner, ViewerTokenInvalid, load_or_create_secret

NO_STORE = {"Cache-Control": "no-store"}
MAX_METRICS_BODY_BYTES = 4096
Delta = Annotated[int, Field(ge=0, le=100_000)]


class DecisionCounts(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: Delta = 0
    fallback: Delta = 0


class PlayerMetricsReport(BaseModel):
    """Counts since the player's previous report; unknown sources or reasons are refused."""

    model_config = ConfigDict(extra="forbid")
    decisions: DecisionCounts = DecisionCounts()
    fallbacks: dict[str, Delta] = Field(default_factory=dict)


class ViewerPages:
    def __init__(self, settings: CatalogPageSettings, media_root: Path) -> None:
        self.settings = settings
        self.media_root = media_root
        self.metrics = OriginMetrics()
        self._signer: ViewerSigner | None = None
        self._client: httpx.AsyncClient | None = None

    @property
    def signer(self) -> ViewerSigner:
        if self._signer is None:
            secret = load_or_create_secret(self.settings.viewer.secret_file)
            self._signer = ViewerSigner(secret, self.settings.viewer.token_ttl_s)
        return self._signer

    def client(self) -> httpx.AsyncClient:
        if self._client is None:  # created on the serving loop, reused: a new client per call costs ms
            self._client = httpx.AsyncClient(trust_env=False, limits=httpx.Limits(max_keepalive_connections=10))
        return self._client

    def viewer(self, request: Request) -> Viewer | None:
        token = request.query_params.get("viewer_token")
        return self.signer.verify(token) if token else None

    async def config(self, request: Request) -> Response:
        s = self.settings
        try:
            viewer = self.viewer(request)
        except ViewerTokenInvalid as exc:
            return JSONResponse({"error": f"viewer link refused: {exc}", "reason": exc.reason}, 401, headers=NO_STORE)
        body = {
            "serving_url": s.serving_base,
            "viewer_id": viewer.viewer_id if viewer else s.viewer.anonymous_id,
            "signed_in": viewer is not None,
            "abr": s.abr.model_dump(),
            "bola": {"minimum_buffer_s": MINIMUM_BUFFER_S, "target_buffer_s": TARGET_BUFFER_S},
            "telemetry": s.telemetry.model_dump(),
        }
        return JSONResponse(body, headers=NO_STORE)

    async def browse(self, request: Request) -> Response:
        token = request.query_params.get("viewer_token")
        try:
            viewer = self.viewer(request)
        except ViewerTokenInvalid as exc:
            return HTMLResponse(render_error_page(401, f"this viewer link is not valid ({exc})"), 401, headers=NO_STORE)
        listing = await catalog_for(viewer.viewer_id if viewer else None, self.settings, self.client())
        self.metrics.catalog_pages.labels(source=listing.source).inc()
        if listing.fallback_reason is not None:
            self.metrics.catalog_fallbacks.labels(reason=listing.fallback_reason).inc()
        published = await anyio.to_thread.run_sync(list_titles, self.media_root)
        html = render_catalog_page(listing, published, self.settings.recommend, token if viewer else None)
        return HTMLResponse(html, headers=NO_STORE)

    async def player_metrics(self, request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_METRICS_BODY_BYTES:
            return JSONResponse(
                {"error": f"body of {len(body)} bytes; at most {MAX_METRICS_BODY_BYTES}"}, 413, headers=NO_STORE
            )
        try:
            report = PlayerMetricsReport.model_validate_json(body)
        except ValidationError as exc:
            return JSONResponse({"error": f"not a player metrics report: {_first_error(exc)}"}, 400, headers=NO_STORE)
        unknown = sorted(set(report.fallbacks) - set(FALLBACK_REASONS))
        if unknown:
            return JSONResponse(
                {"error": f"unknown fallback reason(s) {unknown}; known: {list(FALLBACK_REASONS)}"},
                400,
                headers=NO_STORE,
            )
        for source in DECISION_SOURCES:
            count = getattr(report.decisions, source)
            if count:
                self.metrics.abr_decisions.labels(source=source).inc(count)
        for reason, count in report.fallbacks.items():
            if count:
                self.metrics.abr_fallbacks.labels(reason=reason).inc(count)
        return Response(status_code=204, headers=NO_STORE)

    async def prometheus(self, request: Request) -> Response:
        return Response(self.metrics.text(), media_type="text/plain; version=0.0.4; charset=utf-8", headers=NO_STORE)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error.get("loc", ())) or "body"
    return f"{where}: {error.get('msg')}"


def viewer_routes(media_root: Path, settings: CatalogPageSettings | None = None) -> list[Route]:
    pages = ViewerPages(settings or load_catalog_settings(), media_root)
    return [
        Route("/config.json", pages.config, methods=["GET", "HEAD"]),
        Route("/browse", pages.browse, methods=["GET", "HEAD"]),
        Route("/_player_metrics", pages.player_metrics, methods=["POST"]),
        Route("/metrics", pages.prometheus, methods=["GET", "HEAD"]),
    ]
