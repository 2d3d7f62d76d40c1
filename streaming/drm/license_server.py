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
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from streamlab.streaming.drm.crypto import b64url_decode
from streamlab.streaming.drm.entitlements import EntitlementStore
from streamlab.streaming.drm.keys import ContentKey, KeyStore
from streamlab.streaming.drm.offline import OfflineLicenceError, issue_offline_licence
from streamlab.streaming.drm.settings import DrmSettings
from streamlab.streaming.drm.tokens import LicenseRefused, PlaybackClaims, TokenSigner

log = logging.getLogger("streamlab.drm.license")
KEY_URI = re.compile(r"^[0-9a-f]{32}$")
MAX_BODY_BYTES = 16 * 1024
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

    def clearkey_licence(self, token: str | None, body: bytes) -> dict:
        kids = parse_clearkey_request(body)
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
        if not KEY_URI.match(kid_hex):
            raise LicenseRefused(404, "bad_key_uri", "a key URI names 32 lowercase hex digits")
        claims = self.authorise(token, title_id)
        key = self.keys.get(bytes.fromhex(kid_hex))
        if key is None or key.title_id != title_id:
            raise LicenseRefused(403, "unknown_kid", f"no key {kid_hex} for title {title_id}")
        log.info("hls key granted viewer=%s title=%s kid=%s", claims.viewer_id, title_id, kid_hex)
        return key.key


    def offline_licence(self, token: str | None, body: bytes) -> dict:
        """A persistent licence for the token's title, wrapped to the requesting device."""
        try:
            request = json.loads(body) if len(body) <= MAX_BODY_BYTES else None
            device_public = b64url_decode(request["device_public_key"])
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
            raise LicenseRefused(400, "bad_request", 'offline licence request is {"device_public_key": base64url}') from exc
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


def parse_clearkey_request(body: bytes) -> list[bytes]:
    """Validate a W3C ClearKey licence request body and return its key IDs (16 bytes each)."""
    if len(body) > MAX_BODY_BYTES:
        raise LicenseRefused(400, "bad_request", f"licence request larger than {MAX_BODY_BYTES} bytes")
    try:
        request = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise LicenseRefused(400, "bad_request", "licence request is not JSON") from exc
    if not isinstance(request, dict) or not isinstance(request.get("kids"), list) or not request["kids"]:
        raise LicenseRefused(400, "bad_request", 'licence request must be {"kids": [base64url key ids], "type": …}')
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
    return JSONResponse({"error": exc.reason, "detail": exc.detail}, status_code=exc.status, headers=NO_STORE)


def create_license_app(service: LicenseService, allow_origins: list[str] | None = None) -> Starlette:
    async def clearkey(request: Request) -> Response:
        try:
            body = await request.body()
            licence = service.clearkey_licence(_token(request), body)
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
            licence = service.offline_licence(_token(request), await request.body())
        except LicenseRefused as exc:
            return _refusal(exc, request)
        return JSONResponse(licence, headers=NO_STORE)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    routes = [
        Route("/drm/clearkey/license", clearkey, methods=["POST"]),
        Route("/drm/hls/{title_id:str}/{kid:str}.key", hls_key, methods=["GET"]),
        Route("/drm/offline/license", offline, methods=["POST"]),
        Route("/healthz", health),
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
