"""Live DRM (``live start --drm clearkey``): CENC-encrypted CMAF parts with the VOD licence flow.

The channel is a title to the DRM stack: ``live-<channel>`` (the name its media folder has). Its
content key comes from the VOD key store (:class:`streamlab.streaming.drm.keys.KeyStore`, wrapped
under the master key of ``configs/drm.yaml`` / ``$STREAMLAB_DRM_MASTER_KEY``), so the licence server
grants it exactly as it grants a VOD title's: a viewer entitled to ``live-<channel>`` with a
playback token for it gets the key (W3C ClearKey), nobody else does.

The transcoder encrypts every output itself (FFmpeg's fMP4 writer, ``cenc-aes-ctr``: the same
scheme and writer as the VOD path's FFmpeg engine), so every part, segment and the audio are
encrypted as they are written and no clear sample reaches the disk. Signalling, as for VOD: a
common-system PSSH in each init segment; in every HLS media playlist the key tags of
:mod:`streamlab.streaming.drm.packager` after each ``EXT-X-MAP`` (hls.js plays the
``org.w3.clearkey`` form); in the MPD, per adaptation set, ``mp4protection`` with the
``default_KID``, the common PSSH and the DASH-IF ClearKey element with the licence URL (Shaka).
"""

from __future__ import annotations

import base64
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from streamlab.streaming.drm.boxes import CLEARKEY_DASH_SCHEME, COMMON_SYSTEM_ID, add_pssh, pssh_box
from streamlab.streaming.drm.keys import ContentKey
from streamlab.streaming.drm.packager import cenc_key_tags

CENC_NS = "urn:mpeg:cenc:2013"
DASHIF_NS = "https://dashif.org/CPS"
LICENSE_PATH = "/drm/clearkey/license"


def drm_title_id(channel: str) -> str:
    """The channel's title id in the key store, entitlements and playback tokens."""
    return f"live-{channel}"


def channel_key(channel: str) -> tuple[ContentKey, str]:
    """The channel's CENC key (created on first use, kept across restarts) and the licence URL."""
    from streamlab.streaming.drm.keys import KeyStore
    from streamlab.streaming.drm.settings import load_drm_settings, load_master_key

    settings = load_drm_settings()
    store = KeyStore(settings.key_store_path(), load_master_key(settings))
    [key] = store.ensure_title_keys(drm_title_id(channel), ("all",))
    return key, settings.license_public_url.rstrip("/") + LICENSE_PATH


@dataclass(frozen=True)
class LiveProtection:
    """What the packager, playlists and MPD need to know about the channel's encryption."""

    key: ContentKey
    license_url: str

    @property
    def transcoder_args(self) -> list[str]:
        """FFmpeg's fMP4 writer encrypts each output as it writes it."""
        return ["-encryption_scheme", "cenc-aes-ctr", "-encryption_key", self.key.key.hex(), "-encryption_kid", self.key.kid_hex]

    def init_segment(self, init: bytes) -> bytes:
        """The transcoder's init segment with the common-system PSSH (FFmpeg writes none)."""
        return add_pssh(init, [self.key.kid])

    @property
    def hls_key_tags(self) -> list[str]:
        return cenc_key_tags(self.key)

    def dash_elements(self) -> list[ET.Element]:
        """``ContentProtection`` for an adaptation set: mp4protection + default_KID, common PSSH, ClearKey.

        Unqualified like the rest of the live MPD (:mod:`.mpd` writes the default namespace itself);
        the ``cenc:`` and ``dashif:`` parts are qualified and declared by ElementTree.
        """
        ET.register_namespace("cenc", CENC_NS)
        ET.register_namespace("dashif", DASHIF_NS)
        mp4 = ET.Element("ContentProtection", {"schemeIdUri": "urn:mpeg:dash:mp4protection:2011", "value": "cenc",
                                               f"{{{CENC_NS}}}default_KID": self.key.kid_uuid})
        common = ET.Element("ContentProtection", {"schemeIdUri": f"urn:uuid:{uuid.UUID(bytes=COMMON_SYSTEM_ID)}"})
        ET.SubElement(common, f"{{{CENC_NS}}}pssh").text = base64.b64encode(pssh_box([self.key.kid])).decode()
        clearkey = ET.Element("ContentProtection", {"schemeIdUri": CLEARKEY_DASH_SCHEME, "value": "ClearKey1.0"})
        ET.SubElement(clearkey, f"{{{DASHIF_NS}}}Laurl").text = self.license_url
        return [mp4, common, clearkey]
