"""VMAF/PSNR/SSIM measurement through libvmaf: identical, degraded, rescaled and bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamlab.streaming.ffmpeg import run_ffmpeg
from streamlab.streaming.quality import QualityError, measure_quality, vmaf_model_for


def test_identical_real_clip_scores_near_100(raw_dir: Path) -> None:
    clip = raw_dir / "videos" / "carphone_pristine.mp4"
    report = measure_quality(clip, clip)
    assert report.vmaf.mean > 97
    assert report.psnr_y.mean >= 59  # libvmaf caps PSNR of identical frames at 60 dB
    assert report.ssim.mean == pytest.approx(1.0, abs=1e-6)
    assert report.frames_scored == report.reference_frames == 120


def test_heavier_compression_scores_lower(lossless_small: Path, tmp_path: Path, encode_crf) -> None:
    light = measure_quality(encode_crf(lossless_small, tmp_path / "light.mp4", 20), lossless_small)
    heavy = measure_quality(encode_crf(lossless_small, tmp_path / "heavy.mp4", 42), lossless_small)
    assert heavy.vmaf.mean < light.vmaf.mean - 10
    assert heavy.psnr_y.mean < light.psnr_y.mean
    assert heavy.ssim.mean < light.ssim.mean
    assert heavy.vmaf.p5 <= heavy.vmaf.mean


def test_lower_resolution_is_upscaled_to_the_reference(lossless_small: Path, tmp_path: Path, encode_crf) -> None:
    small = encode_crf(lossless_small, tmp_path / "small.mp4", 18, size="160:90")
    report = measure_quality(small, lossless_small)
    assert report.reference_width == 320 and report.reference_height == 180
    assert 20 < report.vmaf.mean < 95


def test_per_frame_scores_are_kept_in_the_json_log(lossless_small: Path, tmp_path: Path) -> None:
    log = tmp_path / "log" / "vmaf.json"
    report = measure_quality(lossless_small, lossless_small, log_path=log, n_subsample=2)
    frames = json.loads(log.read_text())["frames"]
    assert len(frames) == report.frames_scored == len(report.per_frame["vmaf"]) == 25


def test_other_frame_rate_is_resampled_to_the_reference(lossless_small: Path, tmp_path: Path) -> None:
    fast = tmp_path / "50fps.mp4"
    run_ffmpeg(
        ["-i", lossless_small, "-vf", "fps=50", "-c:v", "libx264", "-crf", "10", "-preset", "ultrafast", fast], "50 fps"
    )
    assert measure_quality(fast, lossless_small).vmaf.mean > 90


def test_model_is_4k_above_1080_lines() -> None:
    assert vmaf_model_for(1920, 1080) == "vmaf_v0.6.1"
    assert vmaf_model_for(3840, 2160) == "vmaf_4k_v0.6.1"
    assert vmaf_model_for(1080, 1920) == "vmaf_v0.6.1"  # portrait 1080p: short side decides


def test_corrupt_input_is_a_clear_error(lossless_small: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(lossless_small.read_bytes()[:2000])
    with pytest.raises(QualityError, match="distorted"):
        measure_quality(broken, lossless_small)


def test_no_video_stream_is_a_clear_error(lossless_small: Path, tmp_path: Path) -> None:
    audio = tmp_path / "audio.m4a"
    run_ffmpeg(["-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", audio], "audio only")
    with pytest.raises(QualityError, match="no video stream"):
        measure_quality(audio, lossless_small)


def test_short_distorted_input_is_refused(lossless_small: Path, tmp_path: Path) -> None:
    short = tmp_path / "short.mp4"
    run_ffmpeg(["-i", lossless_small, "-t", "0.5", "-c:v", "libx264", "-preset", "ultrafast", short], "short cut")
    with pytest.raises(QualityError, match="covers 1[0-9] of the reference's 50 frames"):
        measure_quality(short, lossless_small)
