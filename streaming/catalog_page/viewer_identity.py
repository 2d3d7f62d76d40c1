"""Signed viewer links: who the catalog page and the player beacons speak for.

A link carries ``?viewer_token=<base64url(claims)>.<base64url(HMAC-SHA256)>`` (the format of the
DRM playback tokens, :mod:`streamlab.streaming.drm.tokens`), signed under a key derived (HKDF, its own
purpose label) from a secret file the origin creates on first use. Not a login system: it makes
the viewer id in a link unforgeable, so editing the URL cannot show one viewer another's
recommendations. A query parameter rather than a cookie because the cache tiers strip cookies
from the requests they forward (one shared copy per URL); the pages answer ``no-store``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from streamlab.core import project
from streamlab.core.errors import StreamlabError
from streamlab.streaming.drm.crypto import b64url, b64url_decode, derive

VIEWER_INFO = b"streamlab/catalog/viewer-link/v1"
VIEWER_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}\Z")
"""A telemetry ``Token`` (models/qoe/telemetry.py): the id goes into beacons as ``viewer_id``."""
MAX_TOKEN_CHARS = 1024


class ViewerTokenInvalid(StreamlabError):
    """A viewer link was malformed, forged or expired; ``reason`` is a stable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class Viewer:
    viewer_id: str
    expires_at: int


def load_or_create_secret(path: Path) -> bytes:
    """The 32-byte link secret; a missing file is created with mode 0600 (race-safe)."""
    from streamlab.streaming.drm.settings import create_master_key_file

    path = project.resolve(path)
    if not path.exists():
        try:
            create_master_key_file(path)
        except StreamlabError:  # another process created it between the check and the write
            pass
    if path.stat().st_mode & 0o077:
        raise StreamlabError(f"viewer link secret {path} is readable by group/others: chmod 600 it")
    try:
        key = base64.b64decode(path.read_text().strip(), validate=True)
    except ValueError as exc:
        raise StreamlabError(f"viewer link secret {path} is not base64 of 32 bytes") from exc
    if len(key) != 32:
        raise StreamlabError(f"viewer link secret {path} holds {len(key)} bytes; it must be 32")
    return key


class ViewerSigner:
    def __init__(self, secret: bytes, ttl_s: int) -> None:
        self._key = derive(secret, VIEWER_INFO)
        self.ttl_s = ttl_s

    def issue(self, viewer_id: str, now: float | None = None) -> str:
        if not VIEWER_ID_PATTERN.match(viewer_id):
            raise StreamlabError(f"viewer id {viewer_id!r} is not valid: 1-64 of letters, digits, _ . : -")
        expires = int((time.time() if now is None else now) + self.ttl_s)
        body = b64url(json.dumps({"v": viewer_id, "exp": expires}, separators=(",", ":")).encode())
        return f"{body}.{self._mac(body)}"

    def verify(self, token: str, now: float | None = None) -> Viewer:
        if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
            raise ViewerTokenInvalid("malformed", "a viewer token is two base64url parts joined by '.'")
        body, mac = token.split(".")
        if not hmac.compare_digest(self._mac(body), mac):
            raise ViewerTokenInvalid("bad_signature", "the viewer token's signature does not verify")
        try:
            claims = json.loads(b64url_decode(body))
            viewer = Viewer(str(claims["v"]), int(claims["exp"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ViewerTokenInvalid("malformed", "the viewer token's claims are not readable") from exc
        if not VIEWER_ID_PATTERN.match(viewer.viewer_id):
            raise ViewerTokenInvalid("malformed", f"viewer id {viewer.viewer_id!r} is not valid")
        if (time.time() if now is None else now) > viewer.expires_at:
            raise ViewerTokenInvalid("expired", f"the viewer token expired at {viewer.expires_at}")
        return viewer

    def _mac(self, body: str) -> str:
        return b64url(hmac.new(self._key, body.encode(), hashlib.sha256).digest())
