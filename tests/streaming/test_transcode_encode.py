"""Encoding paths beyond the default test ladder: HEVC rungs, Ray tasks, the full 1080p ladder, the CLI."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import av
import m3u8
import pytest
from mpegdash.parser import MPEGDASHParser

from streamlab.streaming.catalog import published_dir, read_title
from streamlab.streaming.ingest.pipeline import ingest_title
from streamlab.streaming.packaging.mp4box import read_fragment, read_init
from streamlab.streaming.packaging.package import HLS_MASTER_HEVC
from streamlab.streaming.transcode.encode import EncodeFailed, EncodeJob
from streamlab.streaming.transcode.ladder import Rung
from streamlab.streaming.transcode.runner import run_encodes

REPO = Path(__file__).resolve().parents[2]


def segment_starts_s(folder: Path) -> list[float]:
    init = read_init(folder / "init.mp4")
    return [read_fragment(s, init).base_media_decode_time / init.timescale for s in sorted(folder.glob("seg_*.m4s"))]


def starts_on_keyframes(folder: Path) -> bool:
    init = (folder / "init.mp4").read_bytes()
    for segment in sorted(folder.glob("seg_*.m4s")):
        with av.open(io.BytesIO(init + segment.read_bytes()), format="mp4") as container:
            packet = next(p for p in container.demux(video=0) if p.size)
            if not packet.is_keyframe:
                return False
    return True


def test_hevc_rungs_are_packaged_apart_from_the_browser_variants(clip_360p_silent, fast, media_root) -> None:
    # the UHD profile's box shrunk to 640x360 so the HEVC path runs on a small clip
    uhd = "[{name: 2160p, width: 640, height: 360, bitrate_kbps: 600}]"
    record = ingest_title(
        clip_360p_silent,
        "hevc",
        overrides=[
            *fast,
            "transcode.profiles=[main, uhd]",
            f"transcode.ladders.uhd.rungs={uhd}",
            "transcode.segment_duration_s=2",
        ],  # fmt: skip
        media_root=media_root,
    )
    title = published_dir(media_root, record)
    (hevc,) = [r for r in record.renditions if r.codec == "hevc"]
    assert hevc.id == "360p_hevc_600k" and not hevc.browser_playable
    # Main profile (1, compat 6), Main tier level 2.1 (L63) for 640x360, then the constraint flags
    assert re.fullmatch(r"hvc1\.1\.6\.L63(\.[0-9A-F]{2})*", hevc.codecs), hevc.codecs
    browser = m3u8.load(str(title / "master.m3u8"))
    assert [p.uri for p in browser.playlists] == ["360p_800k/playlist.m3u8"]
    apart = m3u8.load(str(title / HLS_MASTER_HEVC))
    assert [(p.uri, p.stream_info.codecs) for p in apart.playlists] == [(f"{hevc.id}/playlist.m3u8", hevc.codecs)]
    sets = MPEGDASHParser.parse(str(title / "manifest.mpd")).periods[0].adaptation_sets
    ids = [[r.id for r in s.representations] for s in sets]
    # the default trick-mode set and seek-thumbnail set come beside the two video sets, not inside them
    assert [i for i in ids if i not in (["trick"], ["thumbnails"])] == [["360p_800k"], [hevc.id]]
    assert ["trick"] in ids and ["thumbnails"] in ids
    assert segment_starts_s(title / hevc.id) == segment_starts_s(title / "360p_800k") == [0.0, 2.0]
    assert starts_on_keyframes(title / hevc.id)


@pytest.mark.slow
def test_ray_mode_publishes_the_same_title_as_serial(clip_480p, fast, media_root) -> None:
    ray_mode = [o for o in fast if not o.startswith("transcode.mode")] + ["transcode.mode=ray"]
    record = ingest_title(clip_480p, "viaray", overrides=ray_mode, media_root=media_root)
    assert [r.id for r in record.renditions] == ["480p_1500k", "480p_1000k", "360p_800k", "360p_500k"]
    assert record.audio is not None
    for rendition in record.renditions:
        assert segment_starts_s(published_dir(media_root, record) / rendition.id) == [0.0, 4.0]


@pytest.mark.slow
def test_encode_failure_in_a_ray_task_keeps_its_type_and_message(tmp_path) -> None:
    missing = tmp_path / "gone.mp4"
    rung = Rung(id="360p_800k", profile="main", codec="h264", width=640, height=360, bitrate_kbps=800)
    job = EncodeJob(
        kind="video", source=missing, out_dir=tmp_path / "out", segment_duration_s=4, rung=rung, gop_frames=100
    )
    with pytest.raises(EncodeFailed, match="gone.mp4"):
        run_encodes([job], "ray", "encoding")


@pytest.mark.slow
def test_full_1080p_ladder_is_aligned_in_every_rendition(clip_1080p, fast, media_root) -> None:
    record = ingest_title(
        clip_1080p, "full", overrides=[*fast, "transcode.segment_duration_s=1"], media_root=media_root
    )
    assert [(r.width, r.height) for r in record.renditions] == [
        (1920, 1080), (1280, 720), (1280, 720), (854, 480), (854, 480), (640, 360), (640, 360),
    ]  # fmt: skip
    expected = [0.0, 1.0, 2.0]
    for rendition in record.renditions:
        folder = published_dir(media_root, record) / rendition.id
        assert segment_starts_s(folder) == pytest.approx(expected, abs=1e-9), rendition.id
        assert starts_on_keyframes(folder), rendition.id
    assert record.renditions[0].codecs.endswith("28")  # level 4.0 for 1080p25 (profile: the preset's)


@pytest.mark.slow
def test_cli_ingests_bigbuckbunny_from_the_repo_root(media_root) -> None:
    env = {**os.environ, "STREAMLAB_MEDIA_ROOT": str(media_root)}
    command = [
        str(Path(sys.executable).with_name("streamlab")), "stream", "ingest", "data/raw/videos/bigbuckbunny.mp4",
        "--title-id", "bbb", "transcode.x264_preset=ultrafast",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"published 'bbb' (5.3 s) at {media_root / 'bbb'}" in result.stdout
    assert "720p_3000k  1280x720" in result.stdout and "HLS " in result.stdout and "DASH " in result.stdout
    record = read_title(media_root, "bbb")
    assert len(record.renditions) == 6
    assert record.audio is not None and record.audio.channels == 2  # 5.1 downmixed for browsers


def test_carphone_qcif_gets_one_square_pixel_rung_at_its_display_size(raw_dir, fast, media_root) -> None:
    record = ingest_title(
        raw_dir / "videos" / "carphone_pristine.mp4", "carphone", overrides=fast, media_root=media_root
    )
    (rendition,) = record.renditions
    # coded 176x144 with 128:117 pixels is shown 193x144: encoded as 192x144 square pixels
    assert (rendition.id, rendition.width, rendition.height, rendition.bitrate_kbps) == ("144p_100k", 192, 144, 100)
    init = read_init(published_dir(media_root, record) / rendition.id / "init.mp4")
    assert (init.width, init.height) == (192, 144)
    assert segment_starts_s(published_dir(media_root, record) / rendition.id) == pytest.approx([0.0], abs=1e-9)
    assert record.audio is None and not record.source.has_audio


def test_silent_bikes_title_has_no_audio_group_or_adaptation_set(raw_dir, fast, media_root) -> None:
    record = ingest_title(
        raw_dir / "videos" / "bikes.mp4", "bikes", overrides=[*fast, "transcode.profiles=[main]"], media_root=media_root
    )
    title = published_dir(media_root, record)
    assert [(r.id, r.width, r.height, r.segment_count) for r in record.renditions] == [("272p_800k", 640, 272, 3)]
    master = m3u8.load(str(title / "master.m3u8"))
    assert not master.media and master.playlists[0].stream_info.audio is None
    assert "," not in master.playlists[0].stream_info.codecs
    sets = MPEGDASHParser.parse(str(title / "manifest.mpd")).periods[0].adaptation_sets
    # the video set, its default trick-mode set and the seek-thumbnail set; no audio set
    assert sorted((s.content_type, s.representations[0].id) for s in sets) == [
        ("image", "thumbnails"), ("video", "272p_800k"), ("video", "trick")]
    assert not (title / "audio").exists()
    assert segment_starts_s(title / "272p_800k") == [0.0, 4.0, 8.0]


def test_the_dearest_encodes_are_submitted_first_and_results_come_back_in_job_order(tmp_path) -> None:
    from streamlab.streaming.transcode.runner import submission_order

    def job(codec: str, width: int, height: int) -> EncodeJob:
        rung = Rung(id=f"{height}p_{codec}", profile="main", codec=codec, width=width, height=height, bitrate_kbps=500)
        return EncodeJob(kind="video", source=tmp_path / "s.mp4", out_dir=tmp_path, segment_duration_s=2, rung=rung)

    audio = EncodeJob(kind="audio", source=tmp_path / "s.mp4", out_dir=tmp_path, segment_duration_s=2)
    jobs = [job("h264", 1920, 1080), job("h264", 640, 360), audio, job("av1", 1920, 1080), job("av1", 640, 360),
            job("h264", 640, 360)]
    # AV1 1080p (the longest) first, H.264 1080p before AV1 360p, equal rungs in ladder order, audio last
    assert submission_order(jobs) == [3, 0, 4, 1, 5, 2]


@pytest.mark.slow
def test_ray_encodes_return_in_job_order_whatever_order_they_ran_in(clip_360p_silent, tmp_path) -> None:
    small = Rung(id="180p_200k", profile="main", codec="h264", width=320, height=180, bitrate_kbps=200)
    large = Rung(id="360p_800k", profile="main", codec="h264", width=640, height=360, bitrate_kbps=800)
    jobs = [EncodeJob(kind="video", source=clip_360p_silent, out_dir=tmp_path / r.id, segment_duration_s=2, rung=r,
                      gop_frames=50, preset="ultrafast") for r in (small, large)]
    assert [r.name for r in run_encodes(jobs, "ray", "encoding")] == ["180p_200k", "360p_800k"]
