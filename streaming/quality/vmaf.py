"""VMAF, PSNR and SSIM of a distorted video against its reference, through the bundled FFmpeg's libvmaf.

How the comparison is set up, and why:

- **Model**: ``vmaf_v0.6.1`` (trained for 1080p viewing at 3 picture heights) for references up to
  1080 lines, ``vmaf_4k_v0.6.1`` above (1.5 heights, 4K TV). Both are built into libvmaf; no
  model file is needed.
- **Scaling**: the distorted video is upscaled to the reference's resolution with bicubic
  scaling, as a player would show a lower rung full screen: that is what VMAF's models are trained
  on, and what makes a 360p rung comparable with a 720p one on one quality axis.
- **Alignment**: both inputs get ``setpts=PTS-STARTPTS`` (an edit list or a non-zero start must
  not shift one against the other); a distorted video at another frame rate is resampled to the
  reference's with ``fps``. Scoring stops at the shorter input (``shortest=1``) and a distorted
  video that covers less than ``min_coverage`` of the reference's frames is an error, not a score.
- **Pooling**: the arithmetic mean (libvmaf's default, what BD-rates are computed on) and the
  5th percentile of the per-frame scores (the worst moments a viewer notices). Per-frame scores
  are kept in the JSON log libvmaf writes.
- **Speed**: ``n_threads`` runs libvmaf's feature extractors in parallel; ``n_subsample=k`` scores
  every k-th frame (k=2-5 changes the pooled mean by well under one VMAF point on natural content,
  and is what trial grids use; acceptance measurements use 1).
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from streamlab.core.errors import StreamlabError
from streamlab.streaming.ffmpeg import FFmpegError, run_ffmpeg
from streamlab.streaming.quality.video_info import VideoInfo, VideoUnreadable, read_video_info

VMAF_MODEL_HD = "vmaf_v0.6.1"
VMAF_MODEL_4K = "vmaf_4k_v0.6.1"


class QualityError(StreamlabError):
    """Quality cannot be measured: an input is unreadable, has no video, or does not cover the reference."""


class MetricSummary(BaseModel):
    mean: float
    p5: float
    min: float

    @classmethod
    def of(cls, values: list[float]) -> MetricSummary:
        array = np.asarray(values, dtype=float)
        return cls(mean=float(array.mean()), p5=float(np.percentile(array, 5)), min=float(array.min()))


class QualityReport(BaseModel):
    """Pooled scores of one distorted video; per-frame scores in ``per_frame`` (and the JSON log)."""

    model: str
    reference_width: int
    reference_height: int
    frames_scored: int
    reference_frames: int
    vmaf: MetricSummary
    psnr_y: MetricSummary
    ssim: MetricSummary
    per_frame: dict[str, list[float]]
    wall_s: float


def vmaf_model_for(width: int, height: int) -> str:
    """The built-in model for a reference of this size: the 4K model above 1080 lines (short side)."""
    return VMAF_MODEL_4K if min(width, height) > 1080 else VMAF_MODEL_HD


def measure_quality(
    distorted: Path,
    reference: Path,
    *,
    n_threads: int = 0,
    n_subsample: int = 1,
    log_path: Path | None = None,
    min_coverage: float = 0.95,
    keep_per_frame: bool = True,
) -> QualityReport:
    """Score ``distorted`` against ``reference`` (VMAF, PSNR-Y, SSIM); see the module docstring."""
    if n_subsample < 1:
        raise QualityError(f"n_subsample must be >= 1, got {n_subsample}")
    ref = _info(reference, "reference")
    dist = _info(distorted, "distorted")
    model = vmaf_model_for(ref.width, ref.height)
    dist_chain = [f"scale={ref.width}:{ref.height}:flags=bicubic", "format=yuv420p", "setpts=PTS-STARTPTS"]
    if ref.fps and dist.fps and abs(dist.fps - ref.fps) > 1e-3:
        dist_chain.insert(0, f"fps={ref.fps:.6g}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vmaf-") as tmp:
        log = Path(log_path) if log_path is not None else Path(tmp) / "vmaf.json"
        log.parent.mkdir(parents=True, exist_ok=True)
        options = ":".join(
            [
                f"model=version={model}",
                "feature=name=psnr|name=float_ssim",
                "log_fmt=json",
                f"log_path={_filter_path(log)}",
                f"n_threads={n_threads}",
                f"n_subsample={n_subsample}",
                "shortest=1",
            ]
        )
        graph = (
            f"[0:v:0]{','.join(dist_chain)}[dist];"
            f"[1:v:0]format=yuv420p,setpts=PTS-STARTPTS[ref];"
            f"[dist][ref]libvmaf={options}"
        )
        try:
            run_ffmpeg(["-i", distorted, "-i", reference, "-an", "-sn", "-dn", "-lavfi", graph, "-f", "null", "-"],
                       f"VMAF of {Path(distorted).name} against {Path(reference).name}")  # fmt: skip
        except FFmpegError as exc:
            raise QualityError(str(exc)) from None
        payload = json.loads(log.read_text())
    frames = payload.get("frames", [])
    scored_frames = len(frames) * n_subsample
    if scored_frames < min_coverage * ref.frames:
        raise QualityError(
            f"distorted {distorted} covers {scored_frames} of the reference's {ref.frames} frames "
            f"(need at least {min_coverage:.0%}); is it a rendition of {Path(reference).name}?"
        )
    per_frame = {
        "vmaf": [_finite(f["metrics"]["vmaf"]) for f in frames],
        "psnr_y": [_finite(f["metrics"]["psnr_y"]) for f in frames],
        "ssim": [_finite(f["metrics"]["float_ssim"]) for f in frames],
    }
    return QualityReport(
        model=model,
        reference_width=ref.width,
        reference_height=ref.height,
        frames_scored=len(frames),
        reference_frames=ref.frames,
        vmaf=MetricSummary.of(per_frame["vmaf"]),
        psnr_y=MetricSummary.of(per_frame["psnr_y"]),
        ssim=MetricSummary.of(per_frame["ssim"]),
        per_frame=per_frame if keep_per_frame else {},
        wall_s=time.perf_counter() - started,
    )


def _info(path: Path, role: str) -> VideoInfo:
    try:
        return read_video_info(Path(path))
    except VideoUnreadable as exc:
        raise QualityError(f"{role} {exc}") from None


def _filter_path(path: Path) -> str:
    """Escape a path for an FFmpeg filter option (':' and '\\' are separators there)."""
    return str(path).replace("\\", "\\\\").replace(":", "\\:").replace("'", "\\'")


def _finite(value: float) -> float:
    """libvmaf reports PSNR of identical frames as a capped 60 dB, but guard against inf/nan anyway."""
    return float(value) if math.isfinite(value) else 100.0
