"""Shot-based ladders: split the title into shots, trial-encode each shot, let the dynamic optimizer choose.

1. **Shot detection** with FFmpeg's scene score (``select='gt(scene,T)'``, ``showinfo`` prints
   the cut times): the bundled FFmpeg already decodes every source, so detection adds no
   dependency (PySceneDetect would bring OpenCV, a ~60 MB wheel, for the same histogram/
   content-difference idea) and costs one decode at the source's size.
2. **Snapping to the segment grid**: each cut moves to the nearest segment boundary and shots
   shorter than one segment disappear, so every shot is a run of whole segments. Every rung then
   has its closed GOPs (= segments) at the same instants whatever CRF each shot gets, and players
   switch rungs at any boundary as before. The price: up to half a segment of a neighbouring shot
   is encoded at this shot's CRF.
3. **Per-shot trial encodes**: one Ray task per (size, CRF) encodes every shot on its own (exactly
   as the rung will be: :mod:`streamlab.streaming.transcode.shot_encode`), joins them, scores the
   joined stream once against the source with per-frame VMAF, and splits bits and VMAF by shot.
   As many tasks as the whole-title grid, over the same frames: the search costs about what the
   title hull costs, plus one decode for detection.
4. **Dynamic optimizer** (:mod:`streamlab.models.ladder.dynamic`): per rung target, one CRF per shot.
"""

from __future__ import annotations

import hashlib
import math
import re
import resource
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from streamlab.core.ray_runtime import map_tasks
from streamlab.models.ladder.dynamic import Shot, ShotOption, shot_ladder
from streamlab.models.ladder.grid import encoder_for, extension_crfs, trial_sizes
from streamlab.models.ladder.schema import Codec, EncoderSettings, Ladder, ShotSetting
from streamlab.models.ladder.settings import LadderOptimizerSettings
from streamlab.streaming.ffmpeg import FFmpegError, run_ffmpeg
from streamlab.streaming.quality import QualityError, measure_quality
from streamlab.streaming.quality.video_info import read_video_info
from streamlab.streaming.transcode.encoder_args import codec_args, video_filter
from streamlab.streaming.transcode.per_title.source import SourceFacts
from streamlab.streaming.transcode.per_title.trials import TrialFailed
from streamlab.streaming.transcode.shot_encode import STITCHABLE_X264, encode_shots, join_shots

_PTS_TIME = re.compile(r"pts_time:([0-9.]+)")


@dataclass(frozen=True)
class Cuts:
    times_s: list[float]
    cpu_s: float


def detect_cuts(source: Path, threshold: float) -> Cuts:
    """Times (s) where FFmpeg's scene score exceeds ``threshold``: the shot changes."""
    before = _children_cpu_s()
    try:
        result = run_ffmpeg(["-i", str(source), "-map", "0:v:0", "-an", "-sn", "-dn",
                             "-vf", f"select='gt(scene,{threshold:g})',showinfo", "-f", "null", "-"],
                            f"shot detection in {Path(source).name}")  # fmt: skip
    except FFmpegError as exc:
        raise TrialFailed(str(exc)) from None
    times = sorted({float(t) for t in _PTS_TIME.findall(result.stderr)})
    return Cuts(times_s=times, cpu_s=_children_cpu_s() - before)


def snap_to_segments(
    cuts_s: list[float], duration_s: float, segment_s: float, max_shots: int
) -> list[tuple[float, float]]:
    """Shots as (start, duration), every boundary on the segment grid (see the module docstring).

    Past ``max_shots`` the shortest shot merges into its neighbour until the count fits.
    """
    segments = max(1, math.ceil(duration_s / segment_s - 1e-6))
    bounds = sorted({round(t / segment_s) for t in cuts_s} & set(range(1, segments)))
    edges = [0, *bounds, segments]
    while len(edges) - 1 > max_shots:
        lengths = [(edges[i + 1] - edges[i], i) for i in range(len(edges) - 1)]
        _, shortest = min(lengths)
        del edges[shortest + 1 if shortest + 1 < len(edges) - 1 else shortest]
    return [
        (a * segment_s, min(b * segment_s, duration_s) - a * segment_s) for a, b in zip(edges, edges[1:], strict=False)
    ]


class ShotTrialSpec(BaseModel):
    """One task: every shot encoded at one size and CRF, joined, scored once."""

    source: str
    width: int
    height: int
    encoder: EncoderSettings
    fps: float
    fps_out: float | None = None
    gop_frames: int
    segment_duration_s: float
    shots: list[tuple[float, float]]
    threads: int = 1
    vmaf_subsample: int = 1
    work_dir: str


class ShotTrialResult(BaseModel):
    width: int
    height: int
    crf: float
    kbps: list[float]
    vmaf: list[float]
    frames: list[int]
    encode_cpu_s: float
    measure_cpu_s: float


def run_shot_trial(spec: ShotTrialSpec) -> ShotTrialResult:
    """Encode each shot at the spec's setting, score the joined stream, split bits and VMAF by shot."""
    tag = hashlib.sha1(f"{spec.source}|{spec.width}x{spec.height}|{spec.encoder.model_dump_json()}".encode())
    work = Path(spec.work_dir) / tag.hexdigest()[:12]
    shots = [ShotSetting(start_s=s, duration_s=d, crf=spec.encoder.crf or 0.0) for s, d in spec.shots]
    try:
        before = _children_cpu_s()
        files = encode_shots(spec.source, shots, lambda _shot: _trial_args(spec), work, "shot trial")
        joined = join_shots(files, work / "joined.mp4", "shot trial")
        encode_cpu_s = _children_cpu_s() - before
        kbps = [read_video_info(f).bitrate_kbps for f in files]
        frames = [read_video_info(f).frames for f in files]
        before = _children_cpu_s()
        report = measure_quality(joined, Path(spec.source), n_threads=spec.threads, n_subsample=spec.vmaf_subsample)
        measure_cpu_s = _children_cpu_s() - before
    except (FFmpegError, QualityError) as exc:
        raise TrialFailed(str(exc)) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    per_frame = report.per_frame["vmaf"]
    vmaf = []
    first = 0
    for n in frames:  # libvmaf scored frames 0, k, 2k, ...: a shot's scores are those inside its frame range
        scores = [v for i, v in enumerate(per_frame) if first <= i * spec.vmaf_subsample < first + n]
        vmaf.append(sum(scores) / len(scores) if scores else report.vmaf.mean)
        first += n
    return ShotTrialResult(width=spec.width, height=spec.height, crf=spec.encoder.crf or 0.0, kbps=kbps, vmaf=vmaf,
                           frames=frames, encode_cpu_s=encode_cpu_s, measure_cpu_s=measure_cpu_s)  # fmt: skip


def _trial_args(spec: ShotTrialSpec) -> list[str]:
    args = ["-vf", video_filter(spec.width, spec.height, spec.fps_out)]
    args += codec_args(spec.encoder, gop_frames=spec.gop_frames, segment_duration_s=spec.segment_duration_s,
                       threads=spec.threads)  # fmt: skip
    return args + (STITCHABLE_X264 if spec.encoder.encoder == "libx264" else [])


@dataclass
class ShotSearch:
    """Everything the shot-based search measured, and the ladder it chose."""

    shots: list[tuple[float, float]]
    results: list[ShotTrialResult]
    ladder: Ladder
    detect_cpu_s: float

    @property
    def cpu_s(self) -> float:
        return self.detect_cpu_s + sum(r.encode_cpu_s + r.measure_cpu_s for r in self.results)


def shot_search(facts: SourceFacts, codec: Codec, settings: LadderOptimizerSettings) -> ShotSearch:
    """Detect shots, run the per-shot grid (extended to the ceiling and the lowest throughput), optimise."""
    cuts = detect_cuts(facts.path, settings.shots.scene_threshold)
    shots = snap_to_segments(cuts.times_s, facts.duration_s, facts.segment_duration_s, settings.shots.max_shots)
    grid = settings.grid.codec(codec)
    sizes = trial_sizes(facts.width, facts.height, settings.grid.heights, settings.grid.max_resolutions)
    crfs = list(grid.crf)
    with tempfile.TemporaryDirectory(prefix="shot-trials-") as work:

        def specs(for_sizes: list[tuple[int, int]], for_crfs: list[float]) -> list[ShotTrialSpec]:
            return [
                ShotTrialSpec(source=str(facts.path), width=w, height=h, encoder=encoder_for(codec, grid.preset,
                              grid.tune, c), fps=facts.fps_out or facts.fps, fps_out=facts.fps_out,
                              gop_frames=facts.gop_frames, segment_duration_s=facts.segment_duration_s, shots=shots,
                              threads=settings.grid.threads_per_task, vmaf_subsample=settings.grid.vmaf_subsample,
                              work_dir=work)  # fmt: skip
                for w, h in for_sizes
                for c in for_crfs
            ]

        todo = specs(sizes, crfs)
        results = map_tasks(run_shot_trial, todo, f"{codec} per-shot grid of {facts.path.name} ({len(todo)} tasks)")
        for _ in range(settings.grid.max_extensions):
            up, down = extension_crfs(max(_pooled(r) for r in results), min(_title_kbps(r) for r in results), crfs,
                                      codec, settings.rules.top_vmaf, settings.rules.lowest_throughput_kbps)  # fmt: skip
            todo = (specs(sizes[:1], up) if up else []) + (specs(sizes[-1:], down) if down else [])
            if not todo:
                break
            results += map_tasks(run_shot_trial, todo, f"{codec} per-shot grid extension ({len(todo)} tasks)")
            crfs += up + down
    per_size: dict[tuple[int, int], list[Shot]] = {}
    for w, h in sizes:
        mine = [r for r in results if (r.width, r.height) == (w, h)]
        per_size[(w, h)] = [
            Shot(start_s=start, duration_s=duration, frames=mine[0].frames[i],
                 options=tuple(ShotOption(crf=r.crf, kbps=r.kbps[i], vmaf=r.vmaf[i]) for r in mine))
            for i, (start, duration) in enumerate(shots)
        ]  # fmt: skip
    rungs = shot_ladder(per_size, settings.rules, codec, preset=grid.preset, tune=grid.tune,
                        jnd_vmaf=settings.shots.jnd_vmaf, crf_step=settings.shots.crf_step)  # fmt: skip
    search = ShotSearch(shots=shots, results=results, ladder=None, detect_cpu_s=cuts.cpu_s)  # type: ignore[arg-type]
    search.ladder = Ladder(
        source=str(facts.path), method="shots", codec=codec, segment_duration_s=facts.segment_duration_s,
        rungs=rungs, decision_cpu_s=round(search.cpu_s, 2),
        notes=[f"{len(shots)} shots ({len(cuts.times_s)} cuts detected), {len(results)} per-shot grid tasks"],
    )  # fmt: skip
    return search


def _pooled(r: ShotTrialResult) -> float:
    return sum(v * n for v, n in zip(r.vmaf, r.frames, strict=True)) / max(1, sum(r.frames))


def _title_kbps(r: ShotTrialResult) -> float:
    return sum(k * n for k, n in zip(r.kbps, r.frames, strict=True)) / max(1, sum(r.frames))


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime

