"""Content keys: generated with a CSPRNG, stored wrapped (AES-256-GCM) under the master key.

Envelope encryption: the SQLite store only ever holds ``nonce || ciphertext`` of each 16-byte
content key, authenticated with the key ID and title as associated data (so a wrapped key moved to
another row does not unwrap). Plaintext keys exist only in memory, and :class:`ContentKey`'s repr
never shows them, so they cannot leak into logs.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from streamlab.core.errors import StreamlabError
from streamlab.streaming.drm.crypto import WRAP_INFO, b64url, derive
from streamlab.streaming.drm.sqlite_store import transaction

TRACKS = ("all", "video", "audio", "hls-aes128")
"""Key purposes: CENC keys for all tracks or per track type, and the HLS AES-128 variant's own key."""


class KeyStoreError(StreamlabError):
    pass


@dataclass(frozen=True)
class ContentKey:
    """One 128-bit content key and its 128-bit key ID (ISO/IEC 23001-7 ``default_KID``)."""

    kid: bytes
    key: bytes = field(repr=False)
    title_id: str
    track: str = "all"
    period: int = 0

    @property
    def kid_hex(self) -> str:
        return self.kid.hex()

    @property
    def kid_uuid(self) -> str:
        h = self.kid.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    @property
    def kid_b64url(self) -> str:
        return b64url(self.kid)

    @property
    def key_b64url(self) -> str:
        return b64url(self.key)


class KeyStore:
    """SQLite-backed store of wrapped content keys."""

    def __init__(self, path: Path, master_key: bytes) -> None:
        self.path = path
        self._aead = AESGCM(derive(master_key, WRAP_INFO))
        path.parent.mkdir(parents=True, exist_ok=True)
        with transaction(self.path) as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS content_keys (kid TEXT PRIMARY KEY, title_id TEXT NOT NULL, "
                "track TEXT NOT NULL, period INTEGER NOT NULL, wrapped BLOB NOT NULL, created_at REAL NOT NULL)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS by_title ON content_keys (title_id, track, period)")

    def create(self, title_id: str, track: str = "all", period: int = 0) -> ContentKey:
        if track not in TRACKS:
            raise KeyStoreError(f"unknown track type {track!r}; expected one of {', '.join(TRACKS)}")
        key = ContentKey(kid=secrets.token_bytes(16), key=secrets.token_bytes(16),
                         title_id=title_id, track=track, period=period)
        nonce = secrets.token_bytes(12)
        wrapped = nonce + self._aead.encrypt(nonce, key.key, self._aad(key.kid, title_id))
        with transaction(self.path) as db:
            db.execute("INSERT INTO content_keys VALUES (?, ?, ?, ?, ?, ?)",
                       (key.kid_hex, title_id, track, period, wrapped, time.time()))
        return key

    def ensure_title_keys(self, title_id: str, tracks: tuple[str, ...] = ("all",), periods: int = 1) -> list[ContentKey]:
        """The title's keys for every (track, period), creating the missing ones."""
        existing = {(k.track, k.period): k for k in self.title_keys(title_id)}
        keys = []
        for track in tracks:
            for period in range(periods):
                keys.append(existing.get((track, period)) or self.create(title_id, track, period))
        return keys

    def title_keys(self, title_id: str) -> list[ContentKey]:
        with transaction(self.path) as db:
            rows = db.execute("SELECT kid, title_id, track, period, wrapped FROM content_keys WHERE title_id = ? "
                              "ORDER BY track, period", (title_id,)).fetchall()
        return [self._unwrap(*row) for row in rows]

    def get(self, kid: bytes) -> ContentKey | None:
        with transaction(self.path) as db:
            row = db.execute("SELECT kid, title_id, track, period, wrapped FROM content_keys WHERE kid = ?",
                             (kid.hex(),)).fetchone()
        return self._unwrap(*row) if row else None

    def delete_title(self, title_id: str) -> int:
        with transaction(self.path) as db:
            return db.execute("DELETE FROM content_keys WHERE title_id = ?", (title_id,)).rowcount

    def _unwrap(self, kid_hex: str, title_id: str, track: str, period: int, wrapped: bytes) -> ContentKey:
        kid = bytes.fromhex(kid_hex)
        try:
            key = self._aead.decrypt(wrapped[:12], wrapped[12:], self._aad(kid, title_id))
        except InvalidTag as exc:
            raise KeyStoreError(f"content key {kid_hex} does not unwrap: wrong master key or tampered store") from exc
        return ContentKey(kid=kid, key=key, title_id=title_id, track=track, period=period)

    @staticmethod
    def _aad(kid: bytes, title_id: str) -> bytes:
        return kid + b"|" + title_id.encode()
