"""The trial grid: encode a title at several sizes and CRFs, and measure each encode's (bitrate, VMAF).

One trial is one Ray task (encode, then score against the source), so the grid spreads over a
cluster unchanged (``RAY_ADDRESS``). Encodes use exactly the arguments the rung will be encoded
with (:mod:`streamlab.streaming.transcode.encoder_args`), GOP structure included, minus the VBV cap: the
measured point is what the rung delivers. CPU time is measured per trial (``RUSAGE_CHILDREN``
of the FFmpeg processes), so optimizers can be compared on the encoding work they spend.
"""

from __future__ import annotations

import functools
import hashlib
import json
import resource
from pathlib import Path

from pydantic import BaseModel

from streamlab.core.ray_runtime import map_tasks
from streamlab.models.ladder.grid import encoder_for, trial_sizes
from streamlab.models.ladder.schema import Codec, EncoderSettings, TrialPoint
from streamlab.models.ladder.settings import LadderOptimizerSettings
from streamlab.streaming.ffmpeg import FFmpegError, ffmpeg_exe, run_ffmpeg
from streamlab.streaming.quality import QualityError, measure_quality
from streamlab.streaming.quality.video_info import read_video_info
from streamlab.streaming.transcode.encoder_args import codec_args, video_filter
from streamlab.streaming.transcode.per_title.source import SourceFacts


class TrialFailed(QualityError):
    """A trial encode or its measurement failed; one plain message so it survives Ray's pickling."""


class TrialSpec(BaseModel):
    """One trial encode of the grid: a size and an encoder setting (uncapped CRF)."""

    source: str
    width: int
    height: int
    encoder: EncoderSettings
    fps_out: float | None = None
    gop_frames: int
    segment_duration_s: float
    threads: int = 1
    vmaf_subsample: int = 1
    work_dir: str


def build_grid(
    facts: SourceFacts,
    codec: Codec,
    settings: LadderOptimizerSettings,
    work_dir: Path,
    *,
    sizes: list[tuple[int, int]] | None = None,
    crfs: list[float] | None = None,
) -> list[TrialSpec]:
    grid = settings.grid.codec(codec)
    sizes = sizes or trial_sizes(facts.width, facts.height, settings.grid.heights, settings.grid.max_resolutions)
    specs: list[TrialSpec] = []
    for width, height in sizes:
        for crf in crfs or grid.crf:
            specs.append(
                TrialSpec(
                    source=str(facts.path),
                    width=width,
                    height=height,
                    encoder=encoder_for(codec, grid.preset, grid.tune, crf),
                    fps_out=facts.fps_out,
                    gop_frames=facts.gop_frames,
                    segment_duration_s=facts.segment_duration_s,
                    threads=settings.grid.threads_per_task,
                    vmaf_subsample=settings.grid.vmaf_subsample,
                    work_dir=str(work_dir),
                )
            )
    return specs


def run_trial(spec: TrialSpec) -> TrialPoint:
    """Encode one grid point, score it against the source, delete the encode; a Ray task or a plain call."""
    work = Path(spec.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    crf = spec.encoder.crf
    # Unique per source and setting: concurrent trials of two sources with equal sizes must not share a file.
    tag = hashlib.sha1(spec.source.encode()).hexdigest()[:8]
    out = (
        work
        / f"{Path(spec.source).stem}-{tag}_{spec.encoder.codec}_{spec.width}x{spec.height}_{spec.encoder.preset}_{spec.encoder.tune}_crf{crf:g}.mp4"
    )
    args = [
        "-i",
        spec.source,
        "-map",
        "0:v:0",
        "-an",
        "-sn",
        "-dn",
        "-vf",
        video_filter(spec.width, spec.height, spec.fps_out),
    ]
    args += codec_args(
        spec.encoder, gop_frames=spec.gop_frames, segment_duration_s=spec.segment_duration_s, threads=spec.threads
    )
    try:
        before = _children_cpu_s()
        run_ffmpeg([*args, out], f"trial encode {out.name}")
        encode_cpu_s = _children_cpu_s() - before
        bitrate_kbps = read_video_info(out).bitrate_kbps
        before = _children_cpu_s()
        report = measure_quality(
            out, Path(spec.source), n_threads=spec.threads, n_subsample=spec.vmaf_subsample, keep_per_frame=False
        )
        measure_cpu_s = _children_cpu_s() - before
    except (FFmpegError, QualityError) as exc:
        raise TrialFailed(str(exc)) from None
    finally:
        out.unlink(missing_ok=True)
    return TrialPoint(
        width=spec.width,
        height=spec.height,
        encoder=spec.encoder,
        bitrate_kbps=bitrate_kbps,
        vmaf=report.vmaf.mean,
        vmaf_p5=report.vmaf.p5,
        psnr_y=report.psnr_y.mean,
        ssim=report.ssim.mean,
        encode_cpu_s=encode_cpu_s,
        measure_cpu_s=measure_cpu_s,
    )


def run_grid(specs: list[TrialSpec], description: str = "trial encodes", *, cache: bool = True) -> list[TrialPoint]:
    """All trials as Ray tasks (local Ray, or the cluster ``RAY_ADDRESS`` names); results in grid order.

    Measured points are remembered under the state dir, keyed by the source file (path, size,
    mtime) and every encode setting: a trial is a pure function of those, so re-running a grid,
    or a corpus grid that overlaps a title's grid, encodes nothing twice. The remembered point
    keeps the CPU time it cost when it was measured.
    """
    known = [recall(spec) if cache else None for spec in specs]
    todo = [spec for spec, point in zip(specs, known, strict=False) if point is None]
    fresh = iter(map_tasks(run_trial, todo, description) if todo else [])
    points = []
    for spec, point in zip(specs, known, strict=False):
        if point is None:
            point = next(fresh)
            if cache:
                remember(spec, point)
        points.append(point)
    return points


def _cache_file(spec: TrialSpec) -> Path | None:
    from streamlab.core import project

    source = Path(spec.source)
    try:
        stat = source.stat()
    except OSError:
        return None
    key = spec.model_dump(exclude={"work_dir", "threads"})
    if not key["encoder"]["params"]:  # trials run without options: keys stay those measured before the field existed
        del key["encoder"]["params"]
    key["source_identity"] = [str(source.resolve()), stat.st_size, stat.st_mtime_ns]
    key["encoder_identity"] = _encoder_identity()  # a new FFmpeg build measures anew, never reads the old one's points
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    return project.state_dir() / "ladder" / "trials" / f"{digest}.json"


@functools.cache
def _encoder_identity() -> list[object]:
    """The FFmpeg binary that measures (path, size, mtime): its encoders and libvmaf are part of what a point means."""
    exe = Path(ffmpeg_exe())
    stat = exe.stat()
    return [str(exe.resolve()), stat.st_size, stat.st_mtime_ns]


def recall(spec: TrialSpec) -> TrialPoint | None:
    path = _cache_file(spec)
    if path is None or not path.is_file():
        return None
    try:
        return TrialPoint.model_validate_json(path.read_text()).model_copy(update={"remembered": True})
    except ValueError:
        return None


def remember(spec: TrialSpec, point: TrialPoint) -> None:
    path = _cache_file(spec)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(point.model_dump_json())


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
