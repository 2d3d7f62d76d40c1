"""A cache tier's control API (purge), served on a listener of its own, never on the public port.

``POST /purge?prefix=/media/<title_id>/`` with ``Authorization: Bearer <token>`` drops every
cached object under the prefix and answers ``{"tier", "prefix", "purged"}``. Viewers reach only
the public listener, where no path changes the cache; this app is bound to loopback by default
(``configs/delivery.yaml`` ``admin``), and the token is compared in constant time, so an
operator's action can neither be triggered through the edge nor guessed by timing.
"""

from __future__ import annotations

import hmac

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from streamlab.streaming.delivery.cache_tier import CacheTier

_NO_STORE = {"Cache-Control": "no-store"}


def create_admin_app(tier: CacheTier, token: str) -> Starlette:
    """The admin ASGI app for ``tier``; every request must carry ``token`` as a bearer token."""
    expected = f"Bearer {token}".encode()

    def refused(request: Request) -> Response | None:
        given = request.headers.get("authorization", "").encode("latin-1", "replace")
        if hmac.compare_digest(given, expected):
            return None
        return JSONResponse(
            {"error": f"the {tier.name} admin API wants Authorization: Bearer <token>"}, 401,
            headers=_NO_STORE | {"WWW-Authenticate": 'Bearer realm="streamlab-cache-admin"'},
        )

    async def purge(request: Request) -> Response:
        if (refusal := refused(request)) is not None:
            return refusal
        prefix = request.query_params.get("prefix", "")
        if not prefix.startswith("/"):
            return JSONResponse({"error": f"prefix {prefix!r} must start with '/', e.g. /media/bbb/"}, 400, headers=_NO_STORE)
        return JSONResponse({"tier": tier.name, "prefix": prefix, "purged": tier.purge(prefix)}, headers=_NO_STORE)

    return Starlette(routes=[Route("/purge", purge, methods=["POST"])])
