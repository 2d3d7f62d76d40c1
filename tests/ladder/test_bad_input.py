"""Sources a per-title ladder must refuse (with a clear reason) or handle: short, VFR, interlaced, no video, odd size."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamlab.streaming.ffmpeg import run_ffmpeg
from streamlab.streaming.transcode.per_title.optimize import optimize_ladder
from streamlab.streaming.transcode.per_title.source import UnsuitableSource, inspect_source

TINY = [
    "segment_duration_s=1",
    "grid.h264.preset=ultrafast",
    "grid.h264.crf=[24,36]",
    "grid.heights=[120]",
    "grid.vmaf_subsample=1",
]


def _lavfi(out: Path, *extra: str, size: str = "320x180", duration_s: float = 2) -> Path:
    run_ffmpeg(
        ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={duration_s:g}", *extra, out],
        f"making {out.name}",
    )
    return out


def test_source_shorter_than_one_segment_is_refused(small_source: Path) -> None:
    with pytest.raises(UnsuitableSource, match=r"lasts 2\.00 s, shorter than one 4 s segment"):
        inspect_source(small_source, segment_duration_s=4.0)


def test_variable_frame_rate_is_refused(tmp_path: Path) -> None:
    vfr = _lavfi(tmp_path / "vfr.mp4", "-vf", "setpts='if(lt(N,25),N/25,1+(N-25)/10)/TB'", "-fps_mode", "passthrough",
                 "-c:v", "libx264", "-preset", "ultrafast", duration_s=3)  # fmt: skip
    with pytest.raises(UnsuitableSource, match="variable frame rate"):
        inspect_source(vfr, segment_duration_s=1.0)


def test_interlaced_source_is_refused(tmp_path: Path) -> None:
    interlaced = _lavfi(tmp_path / "interlaced.mp4", "-vf", "tinterlace=interleave_top,setfield=tff", "-flags", "+ilme+ildct",
                        "-c:v", "libx264", "-preset", "ultrafast")  # fmt: skip
    with pytest.raises(UnsuitableSource, match="interlaced"):
        inspect_source(interlaced, segment_duration_s=1.0)


def test_audio_only_file_is_refused(tmp_path: Path) -> None:
    audio = tmp_path / "audio.m4a"
    run_ffmpeg(["-f", "lavfi", "-i", "sine=duration=2", "-c:a", "aac", audio], "audio only")
    with pytest.raises(UnsuitableSource, match="no video stream"):
        optimize_ladder(audio, "fixed", "h264", ["segment_duration_s=1"])


def test_text_file_is_refused(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(UnsuitableSource, match="cannot be read"):
        inspect_source(text, segment_duration_s=1.0)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsuitableSource, match="does not exist"):
        inspect_source(tmp_path / "nope.mp4", segment_duration_s=1.0)


def test_odd_dimensions_get_even_rungs_scored_at_the_source_size(tmp_path: Path) -> None:
    odd = _lavfi(tmp_path / "odd.mkv", "-vf", "scale=321:181,setsar=1,format=yuv444p", "-c:v", "ffv1")
    ladder = optimize_ladder(odd, "hull", "h264", TINY)
    assert ladder.rungs and all(r.width % 2 == 0 and r.height % 2 == 0 for r in ladder.rungs)
    assert all(r.width <= 321 and r.height <= 181 for r in ladder.rungs)
    assert all(r.expected_vmaf is not None and 20 < r.expected_vmaf <= 100 for r in ladder.rungs)
