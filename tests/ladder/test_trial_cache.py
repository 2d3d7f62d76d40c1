"""The trial cache answers only for the same source file, the same settings and the same FFmpeg build."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamlab.models.ladder.grid import encoder_for
from streamlab.models.ladder.schema import TrialPoint
from streamlab.streaming.transcode.per_title import trials
from streamlab.streaming.transcode.per_title.trials import TrialSpec, recall, remember


def _spec(source: Path, tmp_path: Path) -> TrialSpec:
    return TrialSpec(source=str(source), width=64, height=36, encoder=encoder_for("h264", "ultrafast", None, 30.0),
                     gop_frames=25, segment_duration_s=1.0, work_dir=str(tmp_path))  # fmt: skip


def test_a_new_ffmpeg_build_measures_anew(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMLAB_HOME", str(tmp_path))  # the store under this test's own state dir
    source = tmp_path / "clip.mp4"
    source.write_bytes(b"not decoded here")
    spec = _spec(source, tmp_path)
    point = TrialPoint(width=64, height=36, encoder=spec.encoder, bitrate_kbps=100.0, vmaf=90.0, vmaf_p5=85.0,
                       psnr_y=40.0, ssim=0.98, encode_cpu_s=1.0, measure_cpu_s=1.0)
    remember(spec, point)
    recalled = recall(spec)
    assert recalled is not None and recalled.remembered and recalled.vmaf == 90.0
    real_identity = trials._encoder_identity
    # an upgraded imageio-ffmpeg wheel is another binary: its encoders and libvmaf may score differently
    monkeypatch.setattr(trials, "_encoder_identity", lambda: ["/elsewhere/ffmpeg", 1, 2])
    assert recall(spec) is None
    # and an edited source is another source
    monkeypatch.setattr(trials, "_encoder_identity", real_identity)
    source.write_bytes(b"another clip, another size")
    assert recall(spec) is None
