"""Content protection as an ingest step: encrypt the staged title before it is published.

The encryption itself is ``streamlab.streaming.drm`` (CENC for DASH/HLS with ClearKey licences, an HLS
AES-128 variant); this module only gathers what it needs *before* any encode, so a missing
master key fails in a second instead of after the whole ladder is transcoded, and routes
``drm.*`` overrides to ``configs/drm.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from streamlab.streaming.catalog import TitleRecord
from streamlab.streaming.packaging.package import MASTERS

if TYPE_CHECKING:
    from streamlab.streaming.drm.keys import KeyStore
    from streamlab.streaming.drm.settings import DrmSettings
    from streamlab.streaming.packaging.settings import EncryptionSettings, PackagingSettings

DRM_MODES = ["none", "clearkey", "aes128", "all"]  # streaming.drm.packager.DRM_MODES
DRM_OVERRIDE_PREFIX = "drm."


def split_overrides(overrides: list[str] | None) -> tuple[list[str], list[str]]:
    """``drm.key_per_track_type=true`` goes to configs/drm.yaml (prefix dropped); the rest to streaming.yaml."""
    streaming: list[str] = []
    drm: list[str] = []
    for item in overrides or []:
        plus = "+" if item.startswith("+") else ""
        bare = item.lstrip("+")
        if bare.startswith(DRM_OVERRIDE_PREFIX):
            drm.append(plus + bare.removeprefix(DRM_OVERRIDE_PREFIX))
        else:
            streaming.append(item)
    return streaming, drm


@dataclass(frozen=True)
class Protector:
    mode: str
    keys: KeyStore
    settings: DrmSettings
    encryption: EncryptionSettings

    @classmethod
    def prepare(cls, mode: str, overrides: list[str]) -> Protector | None:
        """None for ``mode="none"``; otherwise load the DRM config and master key (or raise now)."""
        if mode == "none":
            return None
        from streamlab.streaming.drm.keys import KeyStore
        from streamlab.streaming.drm.settings import load_drm_settings, load_master_key

        from streamlab.streaming.packaging.settings import load_encryption_settings

        settings = load_drm_settings(overrides)
        keys = KeyStore(settings.key_store_path(), load_master_key(settings))
        return cls(mode, keys, settings, load_encryption_settings(overrides))

    def protect(self, staged: Path, record: TitleRecord, packaging: PackagingSettings | None = None) -> TitleRecord:
        """Encrypt with the scheme and signalling of ``drm.encryption.*`` and repackage with ``packaging``."""
        from streamlab.streaming.drm.packager import protect_title

        protected = protect_title(staged, record, self.mode, self.keys, self.settings, self.settings.license_public_url,
                                  encryption=self.encryption, packaging=packaging)
        if any(not (staged / r.id).exists() for r in protected.renditions):
            for codec, master in MASTERS.items():  # aes128 mode replaced the clear tracks they point at
                if codec != "h264":
                    (staged / master).unlink(missing_ok=True)
        return protected
