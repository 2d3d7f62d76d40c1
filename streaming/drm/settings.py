"""Typed DRM settings (``configs/drm.yaml``) and the master key they point at."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from pydantic import BaseModel, Field

from streamlab.core.config import load_config
from streamlab.core import project
from streamlab.core.errors import StreamlabError
from streamlab.streaming.delivery.settings import ConnectionLimits
from streamlab.streaming.packaging.settings import EncryptionSettings

MASTER_KEY_ENV = "STREAMLAB_DRM_MASTER_KEY"


class MasterKeyMissing(StreamlabError):
    """No usable master key: DRM refuses to start rather than write keys in the clear."""


class TokenSettings(BaseModel):
    ttl_s: int = 600
    max_uses: int = 8
    clock_skew_s: int = 5


class RateLimitSettings(BaseModel):
    requests_per_s: float = 5.0
    burst: int = 20


class LicenseServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8010
    max_body_bytes: int = Field(default=16384, gt=0, le=1 << 20)
    max_json_depth: int = Field(default=8, ge=2, le=64)
    connection: ConnectionLimits = ConnectionLimits(max_header_bytes=16384, header_timeout_s=5.0, body_timeout_s=10.0,
                                                    idle_timeout_s=15.0)


class OfflineSettings(BaseModel):
    licence_ttl_s: int = 172800
    device_key: Path = Path(".state/device/device.key")


class DrmSettings(BaseModel):
    master_key_file: Path | None = None
    key_store: Path = Path(".state/drm/keys.db")
    entitlements: Path = Path(".state/drm/entitlements.db")
    key_per_track_type: bool = False
    rotation_segments: int = 0
    tokens: TokenSettings = TokenSettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    license_server: LicenseServerSettings = LicenseServerSettings()
    offline: OfflineSettings = OfflineSettings()
    license_public_url: str = "http://127.0.0.1:8010"
    encryption: EncryptionSettings = EncryptionSettings()
    """How titles are encrypted (read by packaging through ``load_encryption_settings``); declared here
    too so that loading drm.yaml checks every key of it."""

    def key_store_path(self) -> Path:
        return project.resolve(self.key_store)

    def entitlements_path(self) -> Path:
        return project.resolve(self.entitlements)


def load_drm_settings(overrides: list[str] | None = None) -> DrmSettings:
    return load_config("drm", DrmSettings, overrides)


def load_master_key(settings: DrmSettings) -> bytes:
    """The 32-byte master key, from the environment first, then the configured file.

    Refuses a key file under the public media tree or readable by others: the master key unwraps
    every content key, so leaking it is leaking the catalogue.
    """
    encoded = os.environ.get(MASTER_KEY_ENV)
    source = f"${MASTER_KEY_ENV}"
    if not encoded and settings.master_key_file is not None:
        path = project.resolve(settings.master_key_file)
        source = str(path)
        if not path.is_file():
            raise MasterKeyMissing(
                f"no DRM master key: {path} does not exist (create it with `streamlab drm init-master-key`, or set "
                f"{MASTER_KEY_ENV}); nothing was encrypted and no key was written"
            )
        media = project.media_root().resolve()
        if path.resolve().is_relative_to(media):
            raise MasterKeyMissing(f"DRM master key file {path} lies inside the public media tree {media}")
        if path.stat().st_mode & 0o077:
            raise MasterKeyMissing(f"DRM master key file {path} is readable by group/others: chmod 600 it")
        encoded = path.read_text().strip()
    if not encoded:
        raise MasterKeyMissing(
            f"no DRM master key: set {MASTER_KEY_ENV} (base64 of 32 random bytes) or drm master_key_file "
            "(`streamlab drm init-master-key`); nothing was encrypted and no key was written"
        )
    try:
        key = base64.b64decode(encoded, validate=True)
    except ValueError as exc:
        raise MasterKeyMissing(f"DRM master key from {source} is not valid base64") from exc
    if len(key) != 32:
        raise MasterKeyMissing(f"DRM master key from {source} is {len(key)} bytes; it must be 32")
    return key


def create_master_key_file(path: Path) -> Path:
    """Write a fresh random master key (mode 0600); refuses to overwrite an existing one."""
    path = project.resolve(path)
    if path.exists():
        raise StreamlabError(f"{path} exists already; refusing to overwrite a master key")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    return path
