"""Key derivation and base64url helpers shared by the key store, tokens and licences.

One master key, separate purposes: HKDF-SHA256 derives a key-wrapping key and a token-signing key
from it (RFC 5869), so a token forgery never touches content keys and vice versa.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

WRAP_INFO = b"streamlab/drm/content-key-wrap/v1"
TOKEN_INFO = b"streamlab/drm/playback-token/v1"
OFFLINE_INFO = b"streamlab/drm/offline-licence/v1"


def derive(master_key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master_key)


def b64url(data: bytes) -> str:
    """Unpadded base64url, as W3C ClearKey and JWK use."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Strict unpadded-or-padded base64url; raises ValueError on anything else."""
    if not isinstance(text, str) or not text or len(text) > 4096:
        raise ValueError("not a base64url string")
    stripped = text.rstrip("=")
    if any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in stripped):
        raise ValueError("not a base64url string")
    return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
