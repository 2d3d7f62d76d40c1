"""Packaging-time encryption: CENC and HLS AES-128 on a really ingested title."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import m3u8
import pytest
from mpegdash.parser import MPEGDASHParser

from streamlab.streaming.catalog import DASH_MANIFEST, HLS_MASTER, TitleRecord, published_dir
from streamlab.streaming.drm.boxes import COMMON_SYSTEM_ID
from streamlab.streaming.drm.keys import KeyStore
from streamlab.streaming.drm.packager import aes128_cbc_decrypt, protect_title, segments
from streamlab.streaming.drm.settings import load_drm_settings
from streamlab.streaming.ffmpeg import ffmpeg_exe, generate_test_source
from streamlab.streaming.ingest.pipeline import ingest_title
from streamlab.streaming.packaging.mp4box import read_fragment, read_init
from streamlab.streaming.packaging.settings import EncryptionSettings

LICENSE = "http://127.0.0.1:8010"


@pytest.fixture(scope="module")
def clear_title(tmp_path_factory) -> tuple[Path, TitleRecord]:
    root = tmp_path_factory.mktemp("drm-src")
    source = generate_test_source(root / "src.mp4", width=320, height=180, duration_s=9, fps=25)
    media = root / "media"
    record = ingest_title(source, "clip", media_root=media,
                          overrides=[f"ingest.allowed_roots=[{root}]", "transcode.mode=serial",
                                     "transcode.x264_preset=veryfast"])  # B-frames, as in production
    # protect_title works on a staged (unversioned) build: the version folder and the record as packaged
    return published_dir(media, record), record.model_copy(update={"version": None, "hls": HLS_MASTER,
                                                                   "dash": DASH_MANIFEST})


def _protect(clear_title, tmp_path, master_key, mode, *extra, scheme="cenc"):
    src, record = clear_title
    work = tmp_path / "clip"
    shutil.copytree(src, work)
    settings = load_drm_settings([f"key_store={tmp_path / 'keys.db'}", *extra])
    store = KeyStore(settings.key_store_path(), master_key)
    protected = protect_title(work, record, mode, store, settings, LICENSE, encryption=EncryptionSettings(scheme=scheme))
    return work, protected, store


def _concat(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in [folder / "init.mp4", *segments(folder)])


def _ffmpeg(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", *args], capture_output=True, text=True)


def _packet_md5(path: Path, key_hex: str | None = None) -> str:
    key = ["-decryption_key", key_hex] if key_hex else []
    result = _ffmpeg(*key, "-i", str(path), "-map", "0", "-c", "copy", "-f", "md5", "-")
    return result.stdout.strip()


def test_cenc_segments_decrypt_bit_exactly_and_not_without_the_key(clear_title, tmp_path, master_key):
    src, record = clear_title
    work, protected, store = _protect(clear_title, tmp_path, master_key, "clearkey")
    key = store.title_keys("clip")[0]
    for rendition in protected.renditions + ([protected.audio] if protected.audio else []):
        (tmp_path / "clear.mp4").write_bytes(_concat(src / rendition.id))
        (tmp_path / "enc.mp4").write_bytes(_concat(work / rendition.id))
        clear_md5 = _packet_md5(tmp_path / "clear.mp4")
        assert clear_md5.startswith("MD5=")
        assert _packet_md5(tmp_path / "enc.mp4", key.key.hex()) == clear_md5
        assert _packet_md5(tmp_path / "enc.mp4") != clear_md5
    video = work / protected.renditions[0].id
    (tmp_path / "enc.mp4").write_bytes(_concat(video))
    (tmp_path / "clear.mp4").write_bytes(_concat(src / protected.renditions[0].id))
    frames = lambda p, *k: _ffmpeg(*k, "-i", str(p), "-map", "0:v", "-f", "framemd5", "-").stdout  # noqa: E731
    assert frames(tmp_path / "enc.mp4") != frames(tmp_path / "clear.mp4")  # garbage or nothing without the key


def test_cenc_init_carries_encv_tenc_and_a_common_pssh_with_the_kid(clear_title, tmp_path, master_key):
    work, protected, store = _protect(clear_title, tmp_path, master_key, "clearkey")
    key = store.title_keys("clip")[0]
    init = (work / protected.renditions[0].id / "init.mp4").read_bytes()
    assert b"encv" in init and b"tenc" in init and b"pssh" in init
    assert COMMON_SYSTEM_ID + (1).to_bytes(4, "big") + key.kid in init
    assert protected.protection.cenc_kids == {"all": key.kid_hex}


def test_cenc_keeps_segment_boundaries_and_keyframes(clear_title, tmp_path, master_key):
    src, _ = clear_title
    work, protected, _ = _protect(clear_title, tmp_path, master_key, "clearkey")
    for rendition in protected.renditions:
        init = read_init(src / rendition.id / "init.mp4")  # encv entries are not parsed; timing is the same
        clear = [read_fragment(p, init) for p in segments(src / rendition.id)]
        enc = [read_fragment(p, init) for p in segments(work / rendition.id)]
        assert [(f.base_media_decode_time, f.duration, f.sample_count) for f in enc] == \
               [(f.base_media_decode_time, f.duration, f.sample_count) for f in clear]
        assert all(f.starts_with_sync_sample for f in enc)


def _first_pts_s(path: Path, stream: str) -> float:
    """The earliest presentation time of a stream's packets (framecrc: stream, dts, pts, ...; in 1/timebase)."""
    text = _ffmpeg("-i", str(path), "-map", f"0:{stream}", "-c", "copy", "-f", "framecrc", "-").stdout
    timebase = next(line for line in text.splitlines() if line.startswith("#tb"))  # "#tb 0: 1/12800"
    num, den = (int(v) for v in timebase.split(":")[1].strip().split("/"))
    pts = [int(line.split(",")[2]) for line in text.splitlines() if line and not line.startswith("#")]
    return min(pts) * num / den


def test_cenc_keeps_the_presentation_timing(clear_title, tmp_path, master_key):
    """Video must still start at 0 like the audio: a plain re-mux turns the encoder's negative
    composition offsets (trun v1) into an 80 ms empty edit, and Chromium then plays video late."""
    src, _ = clear_title
    work, protected, store = _protect(clear_title, tmp_path, master_key, "clearkey")
    key = store.title_keys("clip")[0].key.hex()
    video = protected.renditions[0].id

    def trun_version(segment: Path) -> int:
        data = segment.read_bytes()
        return data[data.index(b"trun") + 4]

    (tmp_path / "enc.mp4").write_bytes(_concat(work / video))
    (tmp_path / "clear.mp4").write_bytes(_concat(src / video))
    (tmp_path / "audio.mp4").write_bytes(_concat(work / protected.audio.id))
    assert _first_pts_s(tmp_path / "clear.mp4", "v") == 0.0
    assert _ffmpeg("-decryption_key", key, "-i", str(tmp_path / "enc.mp4"), "-f", "null", "-").returncode == 0
    assert _first_pts_s(tmp_path / "enc.mp4", "v") == _first_pts_s(tmp_path / "audio.mp4", "a") == 0.0
    for clear, enc in zip(segments(src / video), segments(work / video), strict=True):
        assert trun_version(enc) == trun_version(clear) == 1


def _media_sets(mpd_path: Path) -> list:
    """Every AdaptationSet but the seek-thumbnail image set, which stays clear (JPEG sprites, no key)."""
    sets = MPEGDASHParser.parse(str(mpd_path)).periods[0].adaptation_sets
    (image,) = [a for a in sets if a.content_type == "image"]  # thumbnails are on by default
    assert not image.content_protections
    return [a for a in sets if a is not image]


def test_mpd_gets_content_protection_for_every_adaptation_set(clear_title, tmp_path, master_key):
    work, protected, store = _protect(clear_title, tmp_path, master_key, "clearkey")
    key = store.title_keys("clip")[0]
    for adaptation in _media_sets(work / "manifest.mpd"):
        schemes = {cp.scheme_id_uri: cp for cp in adaptation.content_protections}
        assert schemes["urn:mpeg:dash:mp4protection:2011"].value == "cenc"
        assert "urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e" in schemes
        assert "urn:uuid:1077efec-c0b2-4d02-ace3-3c1e52e2fb4b" in schemes
    text = (work / "manifest.mpd").read_text()
    assert f'cenc:default_KID="{key.kid_uuid}"' in text and f"{LICENSE}/drm/clearkey/license" in text


def test_hls_media_playlists_announce_sample_aes_ctr(clear_title, tmp_path, master_key):
    work, protected, store = _protect(clear_title, tmp_path, master_key, "clearkey")
    playlist = m3u8.load(str(work / protected.renditions[0].id / "playlist.m3u8"))
    assert {k.method for k in playlist.keys if k} == {"SAMPLE-AES-CTR"}
    formats = [k.keyformat for k in playlist.keys if k]
    assert sorted(formats) == sorted({"urn:uuid:1077efec-c0b2-4d02-ace3-3c1e52e2fb4b",  # common system
                                      "org.w3.clearkey",  # what hls.js plays
                                      "urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed",  # Widevine
                                      "com.microsoft.playready"})  # each once; FairPlay only on cbcs titles


def test_aes128_variant_decrypts_to_the_clear_segments(clear_title, tmp_path, master_key):
    src, _ = clear_title
    work, protected, store = _protect(clear_title, tmp_path, master_key, "all")
    variant = work / protected.protection.hls_aes128
    master = m3u8.load(str(variant))
    assert master.is_variant and master.playlists
    key = store.title_keys("clip")[-1]
    for rendition in protected.renditions:
        playlist = m3u8.load(str(work / "aes128" / rendition.id / "playlist.m3u8"))
        assert [k.method for k in playlist.keys if k] == ["AES-128"]
        assert playlist.keys[0].uri == f"{LICENSE}/drm/hls/clip/{key.kid_hex}.key"
        for index, segment in enumerate(playlist.segments):
            data = (work / "aes128" / rendition.id / segment.uri).read_bytes()
            iv = (playlist.media_sequence + index).to_bytes(16, "big")
            assert aes128_cbc_decrypt(key.key, iv, data) == (src / rendition.id / segment.uri).read_bytes()
        text = (work / "aes128" / rendition.id / "playlist.m3u8").read_text()
        assert text.index("#EXT-X-MAP") < text.index("#EXT-X-KEY")  # the init segment stays clear


def test_aes128_only_leaves_no_clear_media_public(clear_title, tmp_path, master_key):
    work, protected, _ = _protect(clear_title, tmp_path, master_key, "aes128")
    assert protected.dash is None and protected.hls == "aes128/master.m3u8"
    assert not (work / "manifest.mpd").exists() and not (work / "master.m3u8").exists()
    assert not any((work / r.id).exists() for r in protected.renditions)


def test_key_rotation_gives_each_period_its_own_key(clear_title, tmp_path, master_key):
    work, protected, store = _protect(clear_title, tmp_path, master_key, "aes128", "rotation_segments=1")
    playlist = m3u8.load(str(work / "aes128" / protected.renditions[0].id / "playlist.m3u8"))
    uris = [segment.key.uri for segment in playlist.segments]
    assert len(set(uris)) == len(playlist.segments) >= 3


SYSTEMS = {
    "urn:uuid:1077efec-c0b2-4d02-ace3-3c1e52e2fb4b": "common",
    "urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed": "widevine",
    "urn:uuid:9a04f079-9840-4286-ab92-e65be0885f95": "playready",
    "urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e": "clearkey",
}


def _psnr_db(decoded: Path, reference: Path, *key: str) -> float | None:
    """Mean PSNR of ``decoded`` (decrypted with ``key`` if given) against ``reference``; None: no frame decoded."""
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", *key, "-i", str(decoded), "-i", str(reference),
                             "-lavfi", "[0:v][1:v]psnr", "-f", "null", "-"], capture_output=True, text=True)
    found = [line for line in result.stderr.splitlines() if "PSNR" in line and "average:" in line]
    if not found:
        return None
    value = found[-1].split("average:")[1].split()[0]
    return float("inf") if value == "inf" else float(value)


@pytest.mark.parametrize("scheme", ["cenc", "cbcs"])
def test_every_rendition_is_unwatchable_without_the_key_and_bit_exact_with_it(clear_title, tmp_path, master_key,
                                                                              scheme):
    src, _ = clear_title
    work, protected, store = _protect(clear_title, tmp_path, master_key, "clearkey", scheme=scheme)
    key = store.title_keys("clip")[0].key.hex()
    frames = lambda p, *k: _ffmpeg(*k, "-i", str(p), "-map", "0:v", "-f", "framemd5", "-").stdout  # noqa: E731
    for rendition in protected.renditions:
        clear = tmp_path / "clear.mp4"
        clear.write_bytes(_concat(src / rendition.id))
        enc = tmp_path / "enc.mp4"
        enc.write_bytes(_concat(work / rendition.id))
        psnr = _psnr_db(enc, clear)
        assert psnr is None or psnr < 20.0, f"{rendition.id} ({scheme}) is watchable without the key: {psnr} dB"
        decoded = frames(enc, "-decryption_key", key)
        assert decoded.count("\n0,") >= rendition.segment_count and decoded == frames(clear)


def test_cbcs_titles_carry_the_cbcs_scheme_and_fairplay_signalling(clear_title, tmp_path, master_key):
    work, protected, store = _protect(clear_title, tmp_path, master_key, "clearkey", scheme="cbcs")
    key = store.title_keys("clip")[0]
    for track in [r.id for r in protected.renditions] + [protected.audio.id]:
        init = (work / track / "init.mp4").read_bytes()
        assert b"schm" in init and init[init.index(b"schm") + 8:init.index(b"schm") + 12] == b"cbcs"
        playlist = m3u8.load(str(work / track / "playlist.m3u8"))
        keys = {k.keyformat: k for k in playlist.keys if k}
        assert {k.method for k in keys.values()} == {"SAMPLE-AES"}
        assert keys["com.apple.streamingkeydelivery"].uri == f"skd://{key.kid_hex}"
        assert "org.w3.clearkey" in keys and "identity" not in keys
    for adaptation in _media_sets(work / "manifest.mpd"):
        schemes = {cp.scheme_id_uri: cp for cp in adaptation.content_protections}
        assert schemes["urn:mpeg:dash:mp4protection:2011"].value == "cbcs"


def test_mpd_and_init_segments_signal_widevine_playready_common_and_clearkey(clear_title, tmp_path, master_key):
    work, protected, store = _protect(clear_title, tmp_path, master_key, "clearkey")
    for adaptation in _media_sets(work / "manifest.mpd"):
        found = {SYSTEMS[cp.scheme_id_uri] for cp in adaptation.content_protections if cp.scheme_id_uri in SYSTEMS}
        assert found == {"common", "widevine", "playready", "clearkey"}
    init = (work / protected.renditions[0].id / "init.mp4").read_bytes()
    for system_id in ("edef8ba979d64acea3c827dcd51d21ed", "9a04f07998404286ab92e65be0885f95", COMMON_SYSTEM_ID.hex()):
        assert bytes.fromhex(system_id) in init  # a PSSH box per system, for players that read the init segment


def test_per_track_type_keys_encrypt_video_and_audio_apart(clear_title, tmp_path, master_key):
    src, _ = clear_title
    work, protected, store = _protect(clear_title, tmp_path, master_key, "clearkey", "key_per_track_type=true")
    keys = {k.track: k for k in store.title_keys("clip")}
    assert set(protected.protection.cenc_kids) == {"video", "audio"}
    for track, kind, other in ((protected.renditions[0].id, "video", "audio"), (protected.audio.id, "audio", "video")):
        (tmp_path / "clear.mp4").write_bytes(_concat(src / track))
        (tmp_path / "enc.mp4").write_bytes(_concat(work / track))
        clear_md5 = _packet_md5(tmp_path / "clear.mp4")
        assert _packet_md5(tmp_path / "enc.mp4", keys[kind].key.hex()) == clear_md5
        assert _packet_md5(tmp_path / "enc.mp4", keys[other].key.hex()) != clear_md5
        assert keys[kind].kid in (work / track / "init.mp4").read_bytes()
