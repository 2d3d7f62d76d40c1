"""Offline playback: a persistent licence bound to one viewer and one device, with an expiry.

The device owns an X25519 key pair (its private half never leaves the machine). The licence server
wraps the title's content keys to that device: an ephemeral X25519 exchange, HKDF-SHA256, then
AES-256-GCM over the keys with the licence header (viewer, title, device, expiry) as associated
data. So another device cannot unwrap the keys, and an edited expiry breaks authentication.
Expiry itself is enforced by the player, as in every offline DRM: the header is what it trusts.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from streamlab.core.errors import StreamlabError
from streamlab.streaming.drm.crypto import OFFLINE_INFO, b64url, b64url_decode, derive
from streamlab.streaming.drm.keys import ContentKey


class OfflineLicenceError(StreamlabError):
    """The offline licence cannot be used here or now; ``reason`` is a stable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class DeviceIdentity:
    private_key: X25519PrivateKey

    @property
    def public_bytes(self) -> bytes:
        return self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def device_id(self) -> str:
        return device_id_of(self.public_bytes)

    @classmethod
    def load_or_create(cls, path: Path) -> DeviceIdentity:
        if path.is_file():
            return cls(X25519PrivateKey.from_private_bytes(path.read_bytes()))
        path.parent.mkdir(parents=True, exist_ok=True)
        key = X25519PrivateKey.generate()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))
        return cls(key)


def device_id_of(public_bytes: bytes) -> str:
    return hashlib.sha256(public_bytes).hexdigest()[:32]


def issue_offline_licence(keys: list[ContentKey], viewer_id: str, title_id: str, device_public: bytes,
                          ttl_s: int, now: float | None = None) -> dict:
    """Server side: wrap ``keys`` to the device; returns the JSON licence."""
    if len(device_public) != 32:
        raise OfflineLicenceError("bad_device_key", "a device public key is 32 bytes (X25519)")
    issued = int(now if now is not None else time.time())
    header = {"viewer_id": viewer_id, "title_id": title_id, "device_id": device_id_of(device_public),
              "issued_at": issued, "expires_at": issued + ttl_s, "kids": [k.kid_hex for k in keys]}
    ephemeral = X25519PrivateKey.generate()
    try:
        secret = ephemeral.exchange(X25519PublicKey.from_public_bytes(device_public))
    except ValueError as exc:  # a low-order point (e.g. all zeros): the shared secret would be all zeros
        raise OfflineLicenceError("bad_device_key", "the device public key is not a usable X25519 key "
                                  "(low-order point)") from exc
    nonce = secrets.token_bytes(12)
    payload = json.dumps({k.kid_hex: k.key.hex() for k in keys}).encode()
    ciphertext = AESGCM(derive(secret, OFFLINE_INFO)).encrypt(nonce, payload, _aad(header))
    return {"header": header, "ephemeral_public": b64url(ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)),
            "nonce": b64url(nonce), "ciphertext": b64url(ciphertext)}


def unlock_offline_licence(licence: dict, device: DeviceIdentity, now: float | None = None) -> dict[str, bytes]:
    """Player side: the content keys by KID hex, or an :class:`OfflineLicenceError` saying why not."""
    try:
        header = licence["header"]
        expires_at = float(header["expires_at"])
        ephemeral = X25519PublicKey.from_public_bytes(b64url_decode(licence["ephemeral_public"]))
        nonce, ciphertext = b64url_decode(licence["nonce"]), b64url_decode(licence["ciphertext"])
    except (KeyError, TypeError, ValueError) as exc:
        raise OfflineLicenceError("licence_malformed", "the offline licence file is not readable") from exc
    if header.get("device_id") != device.device_id:
        raise OfflineLicenceError("wrong_device", f"licence is bound to device {header.get('device_id')}, "
                                  f"this is {device.device_id}")
    now = time.time() if now is None else now
    if now > expires_at:
        raise OfflineLicenceError("licence_expired", f"the offline licence expired at "
                                  f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(expires_at))}")
    try:
        secret = device.private_key.exchange(ephemeral)
        payload = AESGCM(derive(secret, OFFLINE_INFO)).decrypt(nonce, ciphertext, _aad(header))
    except InvalidTag as exc:
        raise OfflineLicenceError("licence_tampered", "the licence does not authenticate (edited, or another device)") from exc
    return {kid: bytes.fromhex(key) for kid, key in json.loads(payload).items()}


def _aad(header: dict) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
