"""Trial grid and encoder arguments: sizes never above the source, aligned closed GOPs, a tiny real hull."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from streamlab.models.ladder.grid import trial_sizes
from streamlab.models.ladder.schema import EncoderSettings, LadderRung
from streamlab.streaming.ffmpeg import run_ffmpeg
from streamlab.streaming.transcode.encoder_args import rung_video_args
from streamlab.streaming.transcode.per_title.optimize import optimize_ladder

TINY = ["segment_duration_s=1", "grid.h264.preset=ultrafast", "grid.h264.crf=[20,28,36]", "grid.heights=[120]",
        "grid.av1.preset=12", "grid.av1.crf=[30,45]"]  # fmt: skip


def test_trial_sizes_never_exceed_the_source_and_keep_its_aspect() -> None:
    sizes = trial_sizes(1280, 720, [1080, 720, 540, 360], max_resolutions=4)
    assert sizes == [(1280, 720), (960, 540), (640, 360)]
    assert trial_sizes(640, 272, [720, 240], 4) == [(640, 272), (564, 240)]
    assert trial_sizes(720, 1280, [1080, 360], 4) == [(720, 1280), (360, 640)]  # portrait: short side


def test_trial_sizes_keep_the_largest_when_capped() -> None:
    assert trial_sizes(1920, 1080, [1080, 720, 540, 360, 240], max_resolutions=2) == [(1920, 1080), (1280, 720)]


@pytest.mark.parametrize(("encoder", "preset"), [("libx264", "ultrafast"), ("libsvtav1", "12")])
def test_rung_keyframes_fall_on_every_segment_boundary(
    small_source: Path, tmp_path: Path, encoder: str, preset: str
) -> None:
    codec = "h264" if encoder == "libx264" else "av1"
    rung = LadderRung(width=160, height=90, codec=codec, bitrate_kbps=150, max_bitrate_kbps=225, bufsize_kbps=300,
                      encoder=EncoderSettings(codec=codec, encoder=encoder, preset=preset, rate_control="capped_crf", crf=30))  # fmt: skip
    out = tmp_path / f"{codec}.mp4"
    run_ffmpeg(["-i", small_source, *rung_video_args(rung, gop_frames=10, segment_duration_s=0.4), out], "rung encode")
    with av.open(str(out)) as container:
        keyframes = [i for i, p in enumerate(container.demux(video=0)) if p.size and p.is_keyframe]
    assert keyframes == list(range(0, 50, 10))


def test_hull_ladder_of_a_real_tiny_grid_is_consistent(small_source: Path) -> None:
    ladder = optimize_ladder(small_source, "hull", "h264", TINY)
    assert ladder.method == "hull" and ladder.decision_cpu_s > 0
    rates = [r.bitrate_kbps for r in ladder.rungs]
    assert rates == sorted(rates, reverse=True)
    vmafs = [r.expected_vmaf for r in ladder.rungs]
    assert vmafs == sorted(vmafs, reverse=True) and vmafs[0] <= 96
    assert all(r.encoder.rate_control == "capped_crf" and r.max_bitrate_kbps > r.bitrate_kbps for r in ladder.rungs)


def test_av1_hull_ladder_uses_svt_av1_with_whole_crfs(small_source: Path) -> None:
    ladder = optimize_ladder(small_source, "hull", "av1", TINY)
    assert all(r.encoder.encoder == "libsvtav1" and float(r.encoder.crf).is_integer() for r in ladder.rungs)
