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


def _protect(clear_title, tmp_path, master_key, mode, *extra):
    src, record = clear_title
    work = tmp_path / "clip"
    shutil.copytree(src, work)
    settings = load_drm_settings([f"key_store={tmp_path / 'keys.db'}", *extra])
    store = KeyStore(settings.key_store_path(), master_key)
    return work, protect_title(work, record, mode, store, settings, LICENSE), store


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


def test_cenc_keeps_the_presentation_timing(clear_title, tmp_path, master_key):
    """Video must still start at 0 like the audio: a plain re-mux turns the encoder's negative
    composition offsets (trun v1) into an 80 ms empty edit, and Chromium then plays video late."""
    src, _ = clear_title
    work, protected, _ = _protect(clear_title, tmp_path, master_key, "clearkey")
    video = protected.renditions[0].id

    def edit_list(folder: Path) -> bytes:
        init = (folder / "init.mp4").read_bytes()
        at = init.index(b"elst")
        return init[at + 4:at + 4 + 20]  # version/flags, entry count, first entry

    def trun_version(segment: Path) -> int:
        data = segment.read_bytes()
        return data[data.index(b"trun") + 4]

    assert edit_list(work / video) == edit_list(src / video)
    for clear, enc in zip(segments(src / video), segments(work / video), strict=True):
        assert trun_version(enc) == trun_version(clear) == 1


def test_mpd_gets_content_protection_for_every_adaptation_set(clear_title, tmp_path, master_key):
    work, protected, store = _protect(clear_title, tmp_path, master_key, "clearkey")
    key = store.title_keys("clip")[0]
    mpd = MPEGDASHParser.parse(str(work / "manifest.mpd"))
    for adaptation in mpd.periods[0].adaptation_sets:
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
    assert {k.keyformat for k in playlist.keys if k} == {"urn:uuid:1077efec-c0b2-4d02-ace3-3c1e52e2fb4b", "org.w3.clearkey"}


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
