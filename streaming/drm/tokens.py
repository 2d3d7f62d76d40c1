"""Signed, expiring playback tokens: who (viewer) may play what (title) on which device class.

Format: ``base64url(JSON claims) "." base64url(HMAC-SHA256(claims))`` under a key derived from the
master key. Compact, verifiable without a database, and opaque to the player. Every refusal is a
:class:`LicenseRefused` with an HTTP status and a stable reason code that the licence server returns
and logs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import asdict, dataclass

from streamlab.core.errors import StreamlabError
from streamlab.streaming.drm.crypto import TOKEN_INFO, b64url, b64url_decode, derive

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}\Z")  # \Z: "$" would accept a trailing "\n"


def check_id(label: str, value: str) -> str:
    """Viewer ids, title ids and device classes end up in tokens, logs and SQLite keys: match them whole."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise StreamlabError(f"{label} {value!r} is not valid (letters, digits, _ . : -; at most 128)")
    return value


class LicenseRefused(StreamlabError):
    """A licence or key request is refused: ``status`` 401 (who are you) or 403 (not allowed)."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.status = status
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class PlaybackClaims:
    viewer_id: str
    title_id: str
    device_class: str
    issued_at: int
    expires_at: int
    token_id: str


class TokenSigner:
    def __init__(self, master_key: bytes, clock_skew_s: int = 5) -> None:
        self._key = derive(master_key, TOKEN_INFO)
        self.clock_skew_s = clock_skew_s

    def issue(self, viewer_id: str, title_id: str, device_class: str, ttl_s: int, now: float | None = None) -> str:
        for label, value in (("viewer id", viewer_id), ("title id", title_id), ("device class", device_class)):
            check_id(label, value)
        issued = int(now if now is not None else time.time())
        claims = PlaybackClaims(viewer_id, title_id, device_class, issued, issued + ttl_s, secrets.token_hex(12))
        body = b64url(json.dumps(asdict(claims), separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{self._mac(body)}"

    def verify(self, token: str | None, now: float | None = None) -> PlaybackClaims:
        """Check signature and time; title/device/entitlement checks belong to the caller."""
        if not token:
            raise LicenseRefused(401, "token_missing", "no playback token was presented")
        if len(token) > 2048 or token.count(".") != 1:
            raise LicenseRefused(401, "token_malformed", "a playback token is two base64url parts joined by '.'")
        body, mac = token.split(".")
        if not hmac.compare_digest(self._mac(body), mac):
            raise LicenseRefused(401, "token_bad_signature", "the token's signature does not verify")
        try:
            raw = json.loads(b64url_decode(body))
            claims = PlaybackClaims(**raw)
        except (ValueError, TypeError) as exc:
            raise LicenseRefused(401, "token_malformed", "the token's claims are not readable") from exc
        now = time.time() if now is None else now
        if now > claims.expires_at + self.clock_skew_s:
            raise LicenseRefused(401, "token_expired", f"the token expired at {claims.expires_at}")
        if now + self.clock_skew_s < claims.issued_at:
            raise LicenseRefused(401, "token_not_yet_valid", "the token was issued in the future")
        return claims

    def _mac(self, body: str) -> str:
        return b64url(hmac.new(self._key, body.encode(), hashlib.sha256).digest())
