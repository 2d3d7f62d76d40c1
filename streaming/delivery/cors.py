"""CORS for the origin, written so that caches in front of it stay correct.

Starlette's ``CORSMiddleware`` only adds headers when the request carries ``Origin``; a tier
that cached the answer to a request without ``Origin`` would then serve it, without
``Access-Control-Allow-Origin``, to a cross-origin player. Here every response states its
CORS policy: ``*`` on all of them when any origin is allowed, otherwise the matching origin
plus ``Vary: Origin`` (which the tiers honour as part of their cache key).
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from streamlab.streaming.delivery.settings import CorsSettings


class CorsMiddleware:
    def __init__(self, app: ASGIApp, settings: CorsSettings) -> None:
        self.app = app
        self.allow_any = "*" in settings.allow_origins
        self.origins = {origin.rstrip("/") for origin in settings.allow_origins}
        self.methods = [m.upper() for m in settings.allow_methods]
        self.allowed_headers = {h.lower() for h in settings.allow_headers}
        self.allow_headers_value = ", ".join(settings.allow_headers)
        self.expose_value = ", ".join(settings.expose_headers)
        self.max_age = str(settings.max_age_s)

    def allow_origin_value(self, origin: str | None) -> str | None:
        if self.allow_any:
            return "*"
        if origin and origin.rstrip("/") in self.origins:
            return origin
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if scope["method"] == "OPTIONS" and origin and "access-control-request-method" in headers:
            await self.preflight(origin, headers)(scope, receive, send)
            return

        allow = self.allow_origin_value(origin)

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                if allow:
                    out["Access-Control-Allow-Origin"] = allow
                    out["Access-Control-Expose-Headers"] = self.expose_value
                if not self.allow_any:
                    out.add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, send_with_cors)

    def preflight(self, origin: str, headers: Headers) -> Response:
        """Answer ``OPTIONS`` preflights (e.g. hls.js asking to send ``Range``) without routing."""
        vary = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
        allow = self.allow_origin_value(origin)
        method = headers["access-control-request-method"].upper()
        requested = [h.strip().lower() for h in headers.get("access-control-request-headers", "").split(",") if h.strip()]
        refused = [h for h in requested if h not in self.allowed_headers]
        if allow is None or method not in self.methods or refused:
            reason = (
                f"origin {origin!r} not allowed" if allow is None
                else f"method {method} not allowed" if method not in self.methods
                else f"headers {refused} not allowed"
            )
            return PlainTextResponse(f"CORS preflight refused: {reason}", 403, headers={"Vary": vary, "Cache-Control": "no-store"})
        return Response(
            status_code=204,
            headers={
                "Access-Control-Allow-Origin": allow,
                "Access-Control-Allow-Methods": ", ".join(self.methods),
                "Access-Control-Allow-Headers": self.allow_headers_value,
                "Access-Control-Max-Age": self.max_age,
                "Vary": vary,
                "Cache-Control": "no-store",
            },
        )
