"""Encrypt a packaged title before it is published: CENC for DASH/HLS, and an HLS AES-128 variant.

Runs on the staging copy of a title, after packaging and before the atomic rename, so clear
segments of a protected title are never visible. The order matters: the AES-128 variant is built
from the clear segments first, then CENC replaces the clear segments in place.

- **CENC with Shaka Packager**: the clear tracks are
  repackaged with raw keys from our key store, scheme ``cenc`` or ``cbcs`` per title
  (``encryption:`` in configs/drm.yaml), and Shaka writes the PSSH boxes, DASH ``ContentProtection``
  and HLS ``EXT-X-KEY`` tags of the common system, Widevine, PlayReady and (cbcs) FairPlay. We add
  what only ClearKey players need: the ``org.w3.clearkey`` key tag (hls.js) and the DASH-IF ClearKey
  ``ContentProtection`` with the licence URL (Shaka Player).
- **HLS AES-128**: whole segments encrypted with AES-128-CBC (PKCS#7), IV = media sequence number
  (the HLS default), ``EXT-X-KEY`` after ``EXT-X-MAP`` so the init segment stays clear, a new key
  every ``rotation_segments`` segments when rotation is on.
"""

from __future__ import annotations

import base64
import shutil
from dataclasses import replace
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from streamlab.core.errors import StreamlabError
from streamlab.streaming.catalog import DASH_MANIFEST, HLS_MASTER, Protection, TitleRecord
from streamlab.streaming.drm.boxes import (
    CLEARKEY_DASH_SCHEME,
    COMMON_SYSTEM_ID,
    pssh_box,
)
from streamlab.streaming.drm.keys import ContentKey, KeyStore
from streamlab.streaming.drm.settings import DrmSettings
from streamlab.streaming.packaging.settings import (
    EncryptionSettings,
    PackagingSettings,
    load_encryption_settings,
    load_packaging_settings,
)
from streamlab.streaming.packaging.shaka import (
    IFRAME_PLAYLIST,
    TRICK_DIR,
    Encryption,
    TrackInput,
    read_track_list,
    repackage,
)

INIT = "init.mp4"
MEDIA_PLAYLIST = "playlist.m3u8"
AES128_DIR = "aes128"
MPD_NS = "urn:mpeg:dash:schema:mpd:2011"
CENC_NS = "urn:mpeg:cenc:2013"
DASHIF_NS = "https://dashif.org/CPS"
DRM_MODES = ("none", "clearkey", "aes128", "all")


class ProtectionError(StreamlabError):
    pass


def segments(track_dir: Path) -> list[Path]:
    return sorted(track_dir.glob("seg_*.m4s"))


def track_dirs(title_dir: Path, record: TitleRecord) -> dict[str, Path]:
    """Track folder by id: every rendition, and the audio track when there is one."""
    dirs = {r.id: title_dir / r.id for r in record.renditions}
    if record.audio is not None:
        dirs[record.audio.id] = title_dir / record.audio.id
    return dirs


def protect_title(title_dir: Path, record: TitleRecord, mode: str, keys: KeyStore, settings: DrmSettings,
                  license_base_url: str, *, encryption: EncryptionSettings | None = None,
                  packaging: PackagingSettings | None = None) -> TitleRecord:
    """Encrypt the staged title in place for ``mode`` and return its updated record.

    ``encryption`` (scheme, signalled systems) and ``packaging`` (I-frame playlists, segment bitrates,
    timeout) default to configs/drm.yaml's ``encryption:`` and configs/streaming.yaml's ``packaging:``.
    """
    if mode not in DRM_MODES:
        raise ProtectionError(f"unknown DRM mode {mode!r}; expected one of {', '.join(DRM_MODES)}")
    if mode == "none":
        return record
    encryption = encryption or load_encryption_settings()
    packaging = packaging or load_packaging_settings()
    base = license_base_url.rstrip("/")
    protection = Protection(license_url=f"{base}/drm/clearkey/license", key_uri_base=f"{base}/drm/hls")
    tracks = track_dirs(title_dir, record)
    if mode in ("aes128", "all"):
        build_aes128_variant(title_dir, record, keys, settings, protection.key_uri_base)
        protection.hls_aes128 = f"{AES128_DIR}/{HLS_MASTER}"
    if mode in ("clearkey", "all"):
        per_track = settings.key_per_track_type and record.audio is not None
        track_types = ("video", "audio") if per_track else ("all",)
        cenc_keys = {k.track: k for k in keys.ensure_title_keys(record.title_id, track_types)}

        def key_kind(track_id: str) -> str:
            if not per_track:
                return "all"
            return "audio" if record.audio is not None and track_id == record.audio.id else "video"

        encrypt_title_shaka(title_dir, record, {t: cenc_keys[key_kind(t)] for t in tracks}, encryption, packaging)
        protection.cenc_kids = {t: k.kid_hex for t, k in cenc_keys.items()}
        add_dash_content_protection(title_dir / DASH_MANIFEST, protection.license_url or "")
    update = {"drm": mode, "protection": protection}
    if mode == "aes128":  # no clear tree may stay public: the AES-128 variant is the title's only form
        extras = [title_dir / t.folder for t in read_track_list(title_dir) if t.kind != "text"]
        for folder in [*tracks.values(), *extras, title_dir / TRICK_DIR]:
            shutil.rmtree(folder, ignore_errors=True)
        (title_dir / DASH_MANIFEST).unlink(missing_ok=True)
        (title_dir / HLS_MASTER).unlink(missing_ok=True)
        update.update(hls=protection.hls_aes128, dash=None)
    return record.model_copy(update=update)


def encrypt_title_shaka(title_dir: Path, record: TitleRecord, track_keys: dict[str, ContentKey],
                        encryption: EncryptionSettings, packaging: PackagingSettings) -> None:
    """Repackage the clear tracks encrypted (one Shaka run), then add the ClearKey-only HLS key tags."""
    labels = {track_id: key.track.upper() for track_id, key in track_keys.items()}
    keys = {labels[t]: (k.kid, k.key) for t, k in track_keys.items()}
    systems = tuple(s for s in encryption.protection_systems if s != "fairplay" or encryption.scheme == "cbcs")
    first = next(iter(track_keys.values()))
    audio_id = record.audio.id if record.audio is not None else None
    inputs = [TrackInput(t, "audio" if t == audio_id else "video", labels[t]) for t in track_keys]
    video_label = next(labels[t] for t in track_keys if t != audio_id)
    audio_label = labels[audio_id] if audio_id is not None else video_label
    by_label = {labels[t]: k for t, k in track_keys.items()}
    playlist_keys = dict(track_keys)
    for extra in read_track_list(title_dir):  # other languages, subtitles (left clear), trick play
        label = audio_label if extra.kind == "audio" else video_label
        # a trick-play track is all keyframes already: factor 1 re-encrypts it as it is
        inputs.append(replace(extra, drm_label=label, source="", trick_play_factor=min(extra.trick_play_factor, 1)))
        if extra.kind != "text":
            playlist_keys[extra.folder] = by_label[label]
    repackage(title_dir, inputs, record.segment_duration_s,
              encryption=Encryption(encryption.scheme, keys, systems,
                                    encryption.fairplay_key_uri.format(kid=first.kid_hex)),
              iframe_playlists=packaging.iframe_playlists, segment_bitrates=packaging.segment_bitrates,
              timeout_s=packaging.timeout_s)
    method = "SAMPLE-AES-CTR" if encryption.scheme == "cenc" else "SAMPLE-AES"
    for track_id, key in playlist_keys.items():
        for name in (MEDIA_PLAYLIST, IFRAME_PLAYLIST):
            playlist = title_dir / track_id / name
            if playlist.is_file():
                _add_clearkey_hls_tags(playlist, key, method)


def _add_clearkey_hls_tags(playlist: Path, key: ContentKey, method: str) -> None:
    """Shaka's identity-format tag (an artefact of the FairPlay key URI) goes; ClearKey tags come in."""
    text = playlist.read_text()
    kept = "\n".join(line for line in text.splitlines() if 'KEYFORMAT="identity"' not in line) + "\n"
    playlist.write_text(kept)
    common = f'KEYFORMAT="urn:uuid:{_uuid(COMMON_SYSTEM_ID)}"'
    tags = cenc_key_tags(key, method)
    _add_hls_key_tags(playlist, [tag for tag in tags if common not in tag or common not in kept])


def cenc_key_tags(key: ContentKey, method: str = "SAMPLE-AES-CTR") -> list[str]:
    """Two equivalent key tags: the common-PSSH form (spec, Shaka) and the ``org.w3.clearkey`` form.

    hls.js ignores the common-system KEYFORMAT and plays CENC only from the ClearKey form, whose
    data URI carries the base64 key ID; without it hls.js stalls silently.
    """
    pssh = base64.b64encode(pssh_box([key.kid])).decode()
    kid = base64.b64encode(key.kid).decode()
    return [
        f'#EXT-X-KEY:METHOD={method},URI="data:text/plain;base64,{pssh}",KEYID=0x{key.kid_hex},'
        f'KEYFORMAT="urn:uuid:{_uuid(COMMON_SYSTEM_ID)}",KEYFORMATVERSIONS="1"',
        f'#EXT-X-KEY:METHOD={method},URI="data:text/plain;base64,{kid}",KEYID=0x{key.kid_hex},'
        f'KEYFORMAT="org.w3.clearkey",KEYFORMATVERSIONS="1"',
    ]


def _add_hls_key_tags(playlist: Path, tags: list[str]) -> None:
    lines = playlist.read_text().splitlines()
    at = next((i + 1 for i, line in enumerate(lines) if line.startswith("#EXT-X-MAP")), None)
    if at is None:
        raise ProtectionError(f"{playlist} has no EXT-X-MAP: not a CMAF media playlist")
    lines[at:at] = tags
    playlist.write_text("\n".join(lines) + "\n")


def build_aes128_variant(title_dir: Path, record: TitleRecord, keys: KeyStore, settings: DrmSettings,
                         key_uri_base: str | None) -> None:
    """Write ``aes128/``: the browser-playable renditions and audio, whole-segment AES-128 encrypted."""
    variant = title_dir / AES128_DIR
    variant.mkdir()
    longest = max(len(segments(folder)) for folder in track_dirs(title_dir, record).values())
    period = settings.rotation_segments if settings.rotation_segments > 0 else max(longest, 1)
    periods = -(-longest // period)
    hls_keys = [k for k in keys.ensure_title_keys(record.title_id, ("hls-aes128",), periods)]

    def key_uri(key: ContentKey) -> str:
        return f"{key_uri_base}/{record.title_id}/{key.kid_hex}.key"

    for track_id, folder in track_dirs(title_dir, record).items():
        encrypt_track_aes128(folder, variant / track_id, hls_keys, period, key_uri)
    master = (title_dir / HLS_MASTER).read_text()  # without I-frame playlists: the variant has none
    (variant / HLS_MASTER).write_text("".join(line for line in master.splitlines(keepends=True)
                                              if not line.startswith("#EXT-X-I-FRAME-STREAM-INF")))


def encrypt_track_aes128(track_dir: Path, out_dir: Path, period_keys: list[ContentKey], rotation_segments: int,
                         key_uri: Callable[[ContentKey], str]) -> None:
    out_dir.mkdir(parents=True)
    shutil.copyfile(track_dir / INIT, out_dir / INIT)
    lines = (track_dir / MEDIA_PLAYLIST).read_text().splitlines()
    sequence = next((int(line.split(":", 1)[1]) for line in lines if line.startswith("#EXT-X-MEDIA-SEQUENCE")), 0)
    names = {p.name for p in segments(track_dir)}
    out_lines: list[str] = []
    index = 0
    current: ContentKey | None = None
    pending_extinf: list[str] = []
    for line in lines:
        if line.startswith("#EXTINF") or (line.startswith("#") and pending_extinf):
            pending_extinf.append(line)
            continue
        if line and not line.startswith("#") and line in names:
            key = period_keys[index // rotation_segments]
            if key is not current:
                out_lines.append(f'#EXT-X-KEY:METHOD=AES-128,URI="{key_uri(key)}"')
                current = key
            iv = (sequence + index).to_bytes(16, "big")
            (out_dir / line).write_bytes(aes128_cbc_encrypt(key.key, iv, (track_dir / line).read_bytes()))
            out_lines += pending_extinf + [line]
            pending_extinf = []
            index += 1
            continue
        out_lines.append(line)
    if index != len(names):
        raise ProtectionError(f"{track_dir / MEDIA_PLAYLIST} lists {index} of its {len(names)} segments")
    (out_dir / MEDIA_PLAYLIST).write_text("\n".join(out_lines) + "\n")


def aes128_cbc_encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padder.update(data) + padder.finalize()) + encryptor.finalize()


def aes128_cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(decryptor.update(data) + decryptor.finalize()) + unpadder.finalize()


def add_dash_content_protection(mpd_path: Path, license_url: str) -> None:
    """Add the DASH-IF ClearKey ``ContentProtection`` (with the licence URL) to every AdaptationSet.

    Shaka Packager wrote mp4protection and the signalled systems' elements already; Shaka Player
    needs the ClearKey element to find the licence server, after them.
    """
    for prefix, uri in (("", MPD_NS), ("cenc", CENC_NS), ("dashif", DASHIF_NS), ("mspr", "urn:microsoft:playready"),
                        ("xsi", "http://www.w3.org/2001/XMLSchema-instance"), ("xlink", "http://www.w3.org/1999/xlink")):
        ET.register_namespace(prefix, uri)
    tree = ET.parse(mpd_path)
    sets = tree.getroot().findall(f".//{{{MPD_NS}}}AdaptationSet")
    if not sets:
        raise ProtectionError(f"{mpd_path} has no AdaptationSet")
    for adaptation in sets:
        if adaptation.get("contentType") == "image":  # seek thumbnails stay clear JPEGs
            continue
        present = [i for i, child in enumerate(adaptation) if child.tag.split("}")[-1] == "ContentProtection"]
        if not present:
            raise ProtectionError(f"{mpd_path}: the packager signalled no ContentProtection")
        clearkey = _element("ContentProtection", {"schemeIdUri": CLEARKEY_DASH_SCHEME, "value": "ClearKey1.0"},
                            [(f"{{{DASHIF_NS}}}Laurl", license_url)])
        adaptation.insert(present[-1] + 1, clearkey)
    tree.write(mpd_path, xml_declaration=True, encoding="utf-8")


def _element(tag: str, attributes: dict[str, str], children: list[tuple[str, str]] | None = None) -> ET.Element:
    element = ET.Element(f"{{{MPD_NS}}}{tag}", attributes)
    for child_tag, text in children or []:
        ET.SubElement(element, child_tag).text = text
    return element


def _uuid(raw: bytes) -> str:
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
