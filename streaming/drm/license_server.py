"""The licence server: W3C ClearKey licences and HLS AES-128 keys, for authorised viewers only.

- ``POST /drm/clearkey/license`` takes the EME ClearKey licence request (``{"kids": [base64url…],
  "type": "temporary"}``) and answers a JWK set (``{"keys": [{"kty": "oct", "kid", "k"}], …}``),
  per the W3C Encrypted Media Extensions ClearKey spec (§9.1.3/9.1.4).
- ``GET /drm/hls/{title_id}/{kid_hex}.key`` answers the 16 raw key bytes an ``EXT-X-KEY`` URI points at.

Both need a playback token (``Authorization: Bearer …`` or ``?token=…``) whose title matches, whose
viewer is entitled on that device class, within its use budget, and within a per-viewer rate limit.
Every refusal is a 401/403/429 with a JSON reason code and one log line; key material is never logged.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from streamlab.core.json_limits import json_depth
from streamlab.streaming.drm.crypto import b64url_decode
from streamlab.streaming.drm.entitlements import EntitlementStore
from streamlab.streaming.drm.keys import ContentKey, KeyStore
from streamlab.streaming.drm.offline import OfflineLicenceError, issue_offline_licence
from streamlab.streaming.drm.openapi import openapi_document
from streamlab.streaming.drm.settings import DrmSettings
from streamlab.streaming.drm.tokens import LicenseRefused, PlaybackClaims, TokenSigner

log = logging.getLogger("streamlab.drm.license")
KEY_URI = re.compile(r"^[0-9a-f]{32}\Z")
MAX_KIDS = 64
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class RateLimiter:
    """Token bucket per viewer: ``rate`` requests/s sustained, ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, viewer_id: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(viewer_id, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1:
                self._buckets[viewer_id] = (tokens, now)
                return False
            self._buckets[viewer_id] = (tokens - 1, now)
            return True


@dataclass
class LicenseService:
    settings: DrmSettings
    keys: KeyStore
    entitlements: EntitlementStore
    signer: TokenSigner
    limiter: RateLimiter

    def authorise(self, token: str | None, title_id: str | None = None) -> PlaybackClaims:
        claims = self.signer.verify(token)
        if not self.limiter.allow(claims.viewer_id):
            raise LicenseRefused(429, "rate_limited", f"too many licence requests from viewer {claims.viewer_id}")
        if title_id is not None and claims.title_id != title_id:
            raise LicenseRefused(403, "token_wrong_title", f"the token is for title {claims.title_id!r}")
        refusal = self.entitlements.check(claims.viewer_id, claims.title_id, claims.device_class)
        if refusal:
            raise LicenseRefused(403, refusal, f"viewer {claims.viewer_id} on {claims.device_class} for {claims.title_id}")
        if not self.entitlements.record_use(claims.token_id, claims.expires_at, self.settings.tokens.max_uses):
            raise LicenseRefused(403, "token_replayed", f"the token was used more than {self.settings.tokens.max_uses} times")
        return claims

    def check_token(self, token: str | None) -> None:
        """Signature and time only (no rate limit, no use counted): cheap enough to run before reading a body."""
        self.signer.verify(token)

    def parse_json(self, body: bytes, usage: str) -> object:
        """The request body as JSON, refused (400) when it is not JSON or nests deeper than configured.

        The depth is checked on the bytes first: Python's JSON decoder recurses per level and raises
        RecursionError (a 500) on ``[`` x 8000, and a licence request never nests more than two levels.
        """
        cfg = self.settings.license_server
        if len(body) > cfg.max_body_bytes:
            raise LicenseRefused(413, "body_too_large", f"licence request larger than {cfg.max_body_bytes} bytes")
        if json_depth(body) > cfg.max_json_depth:
            raise LicenseRefused(400, "bad_request", f"JSON nests deeper than {cfg.max_json_depth} levels; {usage}")
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise LicenseRefused(400, "bad_request", f"licence request is not JSON; {usage}") from exc

    def clearkey_licence(self, token: str | None, body: bytes) -> dict:
        kids = parse_clearkey_request(self.parse_json(body, CLEARKEY_USAGE))
        claims = self.authorise(token)
        granted: list[ContentKey] = []
        for kid in kids:
            key = self.keys.get(kid)
            if key is None:
                raise LicenseRefused(403, "unknown_kid", f"no key with id {kid.hex()}")
            if key.title_id != claims.title_id:
                raise LicenseRefused(403, "kid_not_for_title", f"key {kid.hex()} does not belong to {claims.title_id}")
            granted.append(key)
        log.info("licence granted viewer=%s title=%s device=%s kids=%s", claims.viewer_id, claims.title_id,
                 claims.device_class, ",".join(k.kid_hex for k in granted))
        return {"keys": [{"kty": "oct", "kid": k.kid_b64url, "k": k.key_b64url} for k in granted], "type": "temporary"}

    def hls_key(self, token: str | None, title_id: str, kid_hex: str) -> bytes:
        if not KEY_URI.fullmatch(kid_hex):
            raise LicenseRefused(404, "bad_key_uri", "a key URI names 32 lowercase hex digits")
        claims = self.authorise(token, title_id)
        key = self.keys.get(bytes.fromhex(kid_hex))
        if key is None or key.title_id != title_id:
            raise LicenseRefused(403, "unknown_kid", f"no key {kid_hex} for title {title_id}")
        log.info("hls key granted viewer=%s title=%s kid=%s", claims.viewer_id, title_id, kid_hex)
        return key.key

    def offline_licence(self, token: str | None, body: bytes) -> dict:
        """A persistent licence for the token's title, wrapped to the requesting device."""
        request = self.parse_json(body, OFFLINE_USAGE)
        try:
            device_public = b64url_decode(request["device_public_key"])  # type: ignore[index]
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise LicenseRefused(400, "bad_request", OFFLINE_USAGE) from exc
        claims = self.authorise(token)
        keys = [k for k in self.keys.title_keys(claims.title_id) if k.track != "hls-aes128"]
        if not keys:
            raise LicenseRefused(403, "unknown_kid", f"title {claims.title_id} has no CENC keys (ingest it with --drm clearkey)")
        try:
            licence = issue_offline_licence(keys, claims.viewer_id, claims.title_id, device_public,
                                            self.settings.offline.licence_ttl_s)
        except OfflineLicenceError as exc:
            raise LicenseRefused(400, exc.reason, str(exc)) from exc
        log.info("offline licence granted viewer=%s title=%s device=%s expires=%s", claims.viewer_id,
                 claims.title_id, licence["header"]["device_id"], licence["header"]["expires_at"])
        return licence


CLEARKEY_USAGE = 'a ClearKey licence request is {"kids": [base64url key ids], "type": "temporary"}'
OFFLINE_USAGE = 'an offline licence request is {"device_public_key": base64url}'


def parse_clearkey_request(request: object) -> list[bytes]:
    """Validate a decoded W3C ClearKey licence request and return its key IDs (16 bytes each)."""
    if not isinstance(request, dict) or not isinstance(request.get("kids"), list) or not request["kids"]:
        raise LicenseRefused(400, "bad_request", CLEARKEY_USAGE)
    if len(request["kids"]) > MAX_KIDS:
        raise LicenseRefused(400, "bad_request", f"at most {MAX_KIDS} key ids per request")
    if request.get("type", "temporary") not in ("temporary", "persistent-license"):
        raise LicenseRefused(400, "bad_request", "type must be 'temporary' or 'persistent-license'")
    kids = []
    for kid in request["kids"]:
        try:
            raw = b64url_decode(kid)
        except (ValueError, TypeError) as exc:
            raise LicenseRefused(400, "bad_request", "key ids must be base64url strings") from exc
        if len(raw) != 16:
            raise LicenseRefused(400, "bad_request", "a key id is 16 bytes")
        kids.append(raw)
    return kids


def _token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.query_params.get("token")


def _refusal(exc: LicenseRefused, request: Request) -> JSONResponse:
    log.warning("refused %s %s: %s (%s)", request.method, request.url.path, exc.reason, exc.detail)
    headers = dict(NO_STORE)
    if exc.status in (401, 413):  # the body may be unread: end the connection rather than drain it
        headers["Connection"] = "close"
    return JSONResponse({"error": exc.reason, "detail": exc.detail}, status_code=exc.status, headers=headers)


async def read_bounded_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refused (413) as soon as it is known to exceed ``max_bytes``.

    A declared ``Content-Length`` above the limit is refused before a byte is read; a chunked body
    is read only up to the limit. ``request.body()`` would buffer whatever the client sends.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise LicenseRefused(400, "bad_request", "Content-Length is not a number")
        if int(declared) > max_bytes:
            raise LicenseRefused(413, "body_too_large", f"licence requests are at most {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise LicenseRefused(413, "body_too_large", f"licence requests are at most {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def create_license_app(service: LicenseService, allow_origins: list[str] | None = None) -> Starlette:
    max_body_bytes = service.settings.license_server.max_body_bytes

    async def authorised_body(request: Request) -> tuple[str | None, bytes]:
        """Token first (who are you), then at most ``max_body_bytes`` of body: strangers cost no reads."""
        token = _token(request)
        service.check_token(token)
        try:
            return token, await read_bounded_body(request, max_body_bytes)
        except ClientDisconnect as exc:  # gone (or cut off by the server's body timeout): nobody to answer
            raise LicenseRefused(400, "bad_request", "the client disconnected before sending its body") from exc

    async def clearkey(request: Request) -> Response:
        try:
            token, body = await authorised_body(request)
            licence = service.clearkey_licence(token, body)
        except LicenseRefused as exc:
            return _refusal(exc, request)
        return JSONResponse(licence, headers=NO_STORE)

    async def hls_key(request: Request) -> Response:
        try:
            key = service.hls_key(_token(request), request.path_params["title_id"], request.path_params["kid"])
        except LicenseRefused as exc:
            return _refusal(exc, request)
        return Response(key, media_type="application/octet-stream", headers=NO_STORE)

    async def offline(request: Request) -> Response:
        try:
            token, body = await authorised_body(request)
            licence = service.offline_licence(token, body)
        except LicenseRefused as exc:
            return _refusal(exc, request)
        return JSONResponse(licence, headers=NO_STORE)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    document = openapi_document(service.settings, MAX_KIDS)

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    routes = [
        Route("/drm/clearkey/license", clearkey, methods=["POST"]),
        Route("/drm/hls/{title_id:str}/{kid:str}.key", hls_key, methods=["GET"]),
        Route("/drm/offline/license", offline, methods=["POST"]),
        Route("/healthz", health),
        Route("/openapi.json", openapi),
    ]
    middleware = [Middleware(CORSMiddleware, allow_origins=allow_origins or ["*"], allow_methods=["GET", "POST"],
                             allow_headers=["Authorization", "Content-Type"], max_age=600)]
    return Starlette(routes=routes, middleware=middleware)


def build_service(settings: DrmSettings, master_key: bytes) -> LicenseService:
    return LicenseService(
        settings=settings,
        keys=KeyStore(settings.key_store_path(), master_key),
        entitlements=EntitlementStore(settings.entitlements_path()),
        signer=TokenSigner(master_key, settings.tokens.clock_skew_s),
        limiter=RateLimiter(settings.rate_limit.requests_per_s, settings.rate_limit.burst),
    )
