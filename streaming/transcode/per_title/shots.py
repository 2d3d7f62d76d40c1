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
5. **Top rung as published**: the rungs carry ``grid.<codec>.publish_preset`` (the trials ran at
   ``preset``), and the top rung is encoded shot by shot at it, under its VBV caps, and scored on
   every frame (:func:`verify_shot_top_rung`): it must reach ``rules.top_vmaf`` unless the source cannot.

:func:`predicted_shot_search` is the cheap twin: the same cuts, but each shot's grid is *predicted*
from the shot's own cheap features (SI/TI and a probe encode of that shot only) by the ladder
model, and the same dynamic optimizer chooses from the predicted curves. No trial encodes.
"""

from __future__ import annotations

import hashlib
import math
import re
import resource
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from streamlab.core.ray_runtime import map_tasks
from streamlab.models.ladder.decide import extend_predicted, load_predictor, predicted_points
from streamlab.models.ladder.dynamic import Shot, ShotOption, shot_ladder
from streamlab.models.ladder.grid import encoder_for, extension_crfs, trial_sizes
from streamlab.models.ladder.predictor import LadderPredictor
from streamlab.models.ladder.schema import Codec, EncoderSettings, Ladder, LadderRung, ShotSetting
from streamlab.models.ladder.settings import LadderOptimizerSettings
from streamlab.streaming.ffmpeg import FFmpegError, run_ffmpeg
from streamlab.streaming.quality import QualityError, measure_quality
from streamlab.streaming.quality.video_info import read_video_info
from streamlab.streaming.transcode.encoder_args import codec_args, video_filter
from streamlab.streaming.transcode.per_title.features import shot_features
from streamlab.streaming.transcode.per_title.source import SourceFacts
from streamlab.streaming.transcode.per_title.trials import TrialFailed
from streamlab.streaming.transcode.shot_encode import encode_shots, join_shots

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
    crfs: list[float] | None = None  # one CRF per shot (a rung's choice, verified); None: the encoder's for every shot
    caps: list[tuple[float, float]] | None = None  # per shot (maxrate, bufsize) kbps: the rung's VBV, as delivered
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
    work = _trial_work(spec)
    try:
        before = _children_cpu_s()
        files = encode_shots(spec.source, _trial_shots(spec), lambda shot: _trial_args(spec, shot), work, "shot trial")
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


def shot_bitrates(spec: ShotTrialSpec) -> tuple[list[float], float]:
    """Each shot's bitrate (kbps) encoded at the spec's setting, unscored, and the CPU seconds it took.

    A capped rung's VBV is cut from these (``rules.maxrate_ratio`` and ``bufsize_ratio`` times each
    shot's own uncapped rate), so measuring a rung as delivered takes this encode first.
    """
    work = _trial_work(spec)
    try:
        before = _children_cpu_s()
        files = encode_shots(spec.source, _trial_shots(spec), lambda shot: _trial_args(spec, shot), work, "shot rates")
        return [read_video_info(f).bitrate_kbps for f in files], _children_cpu_s() - before
    except FFmpegError as exc:
        raise TrialFailed(str(exc)) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _trial_work(spec: ShotTrialSpec) -> Path:
    setting = f"{spec.width}x{spec.height}|{spec.encoder.model_dump_json()}|{spec.crfs}|{spec.caps}"
    return Path(spec.work_dir) / hashlib.sha1(f"{spec.source}|{setting}".encode()).hexdigest()[:12]


def _trial_shots(spec: ShotTrialSpec) -> list[ShotSetting]:
    crfs = spec.crfs or [spec.encoder.crf or 0.0] * len(spec.shots)
    caps: list[tuple[float, float]] | list[tuple[None, None]] = spec.caps or [(None, None)] * len(spec.shots)
    return [ShotSetting(start_s=s, duration_s=d, crf=c, max_bitrate_kbps=m, bufsize_kbps=b)
            for (s, d), c, (m, b) in zip(spec.shots, crfs, caps, strict=True)]  # fmt: skip


def _trial_args(spec: ShotTrialSpec, shot: ShotSetting) -> list[str]:
    """One shot of a trial (or of the verified top rung) as the rung will be encoded: stitchable, joined after."""
    return ["-vf", video_filter(spec.width, spec.height, spec.fps_out)] + codec_args(
        spec.encoder.model_copy(update={"crf": shot.crf}), gop_frames=spec.gop_frames,
        segment_duration_s=spec.segment_duration_s, max_bitrate_kbps=shot.max_bitrate_kbps,
        bufsize_kbps=shot.bufsize_kbps, threads=spec.threads, stitchable=True,
    )  # fmt: skip


@dataclass
class ShotSearch:
    """Everything the shot-based search measured, and the ladder it chose."""

    shots: list[tuple[float, float]]
    results: list[ShotTrialResult]
    ladder: Ladder
    detect_cpu_s: float
    per_size: dict[tuple[int, int], list[Shot]] = field(default_factory=dict)  # the curves the optimizer chose from
    verify_cpu_s: float = 0.0

    @property
    def cpu_s(self) -> float:
        return self.detect_cpu_s + sum(r.encode_cpu_s + r.measure_cpu_s for r in self.results) + self.verify_cpu_s


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
    rungs = _published_shot_ladder(per_size, settings, codec)
    search = ShotSearch(shots=shots, results=results, ladder=None, detect_cpu_s=cuts.cpu_s,  # type: ignore[arg-type]
                        per_size=per_size)  # fmt: skip
    draft = Ladder(
        source=str(facts.path), method="shots", codec=codec, segment_duration_s=facts.segment_duration_s,
        rungs=rungs, decision_cpu_s=round(search.cpu_s, 2),
        notes=[f"{len(shots)} shots ({len(cuts.times_s)} cuts detected), {len(results)} per-shot grid tasks"],
    )  # fmt: skip
    # The trials ran at the trial preset and scored a subsample of frames; the published top rung is
    # encoded at the publish preset and watched in full: measure it as published (held-out bikes' AV1
    # top rung measured 94.7 against the 95.5 its trials promised).
    search.ladder, search.verify_cpu_s = verify_shot_top_rung(facts, draft, settings)
    return search


@dataclass
class PredictedShotSearch:
    """The predicted per-shot curves (per size) and the ladder the dynamic optimizer chose from them."""

    shots: list[tuple[float, float]]
    per_size: dict[tuple[int, int], list[Shot]]
    ladder: Ladder
    detect_cpu_s: float
    features_cpu_s: float
    verify_cpu_s: float = 0.0

    @property
    def cpu_s(self) -> float:
        return self.detect_cpu_s + self.features_cpu_s + self.verify_cpu_s


def predicted_shot_search(
    facts: SourceFacts, codec: Codec, settings: LadderOptimizerSettings, predictor: LadderPredictor | None = None
) -> PredictedShotSearch:
    """A shot-based ladder without trial encodes: per-shot features -> predicted per-shot grid -> optimizer.

    Each shot is what the model calls a title (its corpus holds 4-5 s segments of real clips, the
    size of a snapped shot), so the title model predicts a shot's (bitrate, VMAF) at every size and
    CRF of the grid, plus the extrapolated step below the grid when it misses the ceiling
    (:func:`~streamlab.models.ladder.decide.extend_predicted`), as the whole-title predicted ladder does.
    """
    origin = "given"
    if predictor is None:
        predictor, origin = load_predictor(settings.predictor.model_alias)
    cuts = detect_cuts(facts.path, settings.shots.scene_threshold)
    shots = snap_to_segments(cuts.times_s, facts.duration_s, facts.segment_duration_s, settings.shots.max_shots)
    features = shot_features(facts, shots, settings.predictor)
    fps = facts.fps_out or facts.fps
    per_size: dict[tuple[int, int], list[Shot]] = {}
    for (start, duration), f in zip(shots, features, strict=True):
        points = extend_predicted(predicted_points(predictor, f, codec, settings), codec, settings)
        for w, h in sorted({(p.width, p.height) for p in points}, reverse=True):
            options = tuple(ShotOption(crf=p.encoder.crf or 0.0, kbps=p.bitrate_kbps, vmaf=p.vmaf)
                            for p in points if (p.width, p.height) == (w, h))  # fmt: skip
            per_size.setdefault((w, h), []).append(
                Shot(start_s=start, duration_s=duration, frames=max(1, round(duration * fps)), options=options)
            )
    per_size = {size: s for size, s in per_size.items() if len(s) == len(shots)}  # a size every shot has
    rungs = _published_shot_ladder(per_size, settings, codec)
    features_cpu_s = sum(f.cpu_s for f in features)
    draft = Ladder(
        source=str(facts.path), method="predicted", codec=codec, segment_duration_s=facts.segment_duration_s,
        rungs=rungs, decision_cpu_s=round(cuts.cpu_s + features_cpu_s, 2),
        notes=[f"model {origin}", f"per shot: {len(shots)} shots ({len(cuts.times_s)} cuts detected), "
               "predicted per-shot grid, dynamic optimizer"],
    )  # fmt: skip
    ladder, verify_cpu_s = verify_shot_top_rung(facts, draft, settings)
    return PredictedShotSearch(shots=shots, per_size=per_size, ladder=ladder, detect_cpu_s=cuts.cpu_s,
                               features_cpu_s=features_cpu_s, verify_cpu_s=verify_cpu_s)  # fmt: skip


def _published_shot_ladder(
    per_size: dict[tuple[int, int], list[Shot]], settings: LadderOptimizerSettings, codec: Codec
) -> list[LadderRung]:
    """The dynamic optimizer's ladder with the rungs set as they are published (the codec's publish preset,
    tune and options), for the searched and the predicted per-shot grids alike."""
    grid = settings.grid.codec(codec)
    return shot_ladder(per_size, settings.rules, codec, preset=grid.published_preset, tune=grid.tune,
                       params=grid.publish_params, jnd_vmaf=settings.shots.jnd_vmaf, crf_step=settings.shots.crf_step,
                       top_margin_vmaf=settings.shots.top_margin_vmaf)  # fmt: skip


def verify_shot_top_rung(facts: SourceFacts, ladder: Ladder, settings: LadderOptimizerSettings) -> tuple[Ladder, float]:
    """A predicted shot-based ladder with its top rung encoded for real (shot by shot) and corrected toward the ceiling.

    The per-shot predictions share the title predictor's weakness at the ceiling
    (:mod:`.verify`), so the same correction runs on the whole top rung: every shot's CRF moves by
    one common offset (the rung's mean CRF steps as :func:`.verify._next_crf` says, from the
    configured slope, then the secant), keeping the optimizer's split between shots. Bounded by
    ``verify.max_steps``; the cheapest measurement within ``verify.tolerance_vmaf`` of the ceiling
    (``rules.top_vmaf`` + ``verify.margin_vmaf``: the encode is scored on every frame, so the trials'
    ``shots.top_margin_vmaf`` is not needed here) wins, else the best. Returns the ladder and the CPU spent.

    Each step scores the rung as the stack delivers it: a capped rung's shots are encoded under the
    VBV caps cut from their own uncapped rates (one unscored encode first, :func:`shot_bitrates`).
    The cap is not a small loss to leave out: x264 under a VBV rations its bits differently, even with
    the cap at 1.5x the shot's own mean rate. On the tests' three-shot clip (a 1 s last shot of a
    scrolling pattern) it moved the rung's VMAF by -0.8 to +5.9 over 39 random patterns against the
    uncapped encode at the same CRFs, and one full test run delivered 4.9 under what the uncapped check
    had published.

    Runs for shot-based ladders of both kinds: predicted (the model's error at the ceiling) and
    searched (:func:`shot_search`: trial preset and subsampled scores vs the published encode).
    """
    from streamlab.models.ladder.schema import TrialPoint
    from streamlab.streaming.transcode.per_title.verify import CRF_CEILING, CRF_FLOOR, _next_crf, check_threads

    verify, top = settings.verify, ladder.rungs[0]
    if not verify.enabled or not top.shots or top.encoder.crf is None:
        return ladder, 0.0
    codec = ladder.codec
    target = settings.rules.top_vmaf + verify.margin_vmaf
    mean_crf = top.encoder.crf

    def crfs_at(crf: float) -> list[float]:
        return [_crf_for(min(max(s.crf + crf - mean_crf, CRF_FLOOR[codec]), CRF_CEILING[codec]), codec)
                for s in top.shots or []]  # fmt: skip

    rules = settings.rules
    capped = top.encoder.rate_control == "capped_crf"
    # (measurement, what it scored, each shot's uncapped kbps: the rung's VBV caps are cut from these)
    measured: list[tuple[TrialPoint, ShotTrialResult, list[float]]] = []
    with tempfile.TemporaryDirectory(prefix="shot-verify-") as work:
        crf: float | None = mean_crf
        for _ in range(verify.max_steps + 1):
            if crf is None:
                break
            spec = ShotTrialSpec(source=str(facts.path), width=top.width, height=top.height,
                                 encoder=top.encoder.model_copy(update={"crf": crf, "rate_control": "crf"}),
                                 fps=facts.fps_out or facts.fps, fps_out=facts.fps_out, gop_frames=facts.gop_frames,
                                 segment_duration_s=facts.segment_duration_s,
                                 shots=[(s.start_s, s.duration_s) for s in top.shots or []], crfs=crfs_at(crf),
                                 threads=check_threads(codec, settings), vmaf_subsample=1,  # as published: every frame
                                 work_dir=work)  # fmt: skip
            rates_cpu_s = 0.0
            if capped:  # score the encode the stack delivers: each shot under the VBV cut from its own uncapped rate
                uncapped, rates_cpu_s = shot_bitrates(spec)
                spec = spec.model_copy(update={
                    "encoder": spec.encoder.model_copy(update={"rate_control": "capped_crf"}),
                    "caps": [(round(k * rules.maxrate_ratio), round(k * rules.bufsize_ratio)) for k in uncapped],
                })  # fmt: skip
            result = run_shot_trial(spec)
            point = TrialPoint(width=top.width, height=top.height, encoder=spec.encoder,
                               bitrate_kbps=_title_kbps(result),
                               vmaf=_pooled(result), vmaf_p5=_pooled(result), psnr_y=0.0, ssim=0.0,
                               encode_cpu_s=result.encode_cpu_s + rates_cpu_s,
                               measure_cpu_s=result.measure_cpu_s)  # fmt: skip
            measured.append((point, result, uncapped if capped else result.kbps))
            if target - verify.tolerance_vmaf <= point.vmaf <= target + verify.overshoot_vmaf:
                break
            crf = _next_crf([p for p, _, _ in measured], target, codec, settings)
    cpu_s = sum(p.encode_cpu_s + p.measure_cpu_s for p, _, _ in measured)
    passing = [m for m in measured if m[0].vmaf >= target - verify.tolerance_vmaf]
    point, result, uncapped = (min(passing, key=lambda m: m[0].bitrate_kbps) if passing
                               else max(measured, key=lambda m: m[0].vmaf))  # fmt: skip
    chosen_crfs = crfs_at(point.encoder.crf or mean_crf)
    peak = max(uncapped)
    rung = top.model_copy(update={
        "encoder": top.encoder.model_copy(update={"crf": _crf_for(point.encoder.crf or mean_crf, codec)}),
        "bitrate_kbps": round(point.bitrate_kbps, 1),
        "max_bitrate_kbps": round(peak * rules.maxrate_ratio), "bufsize_kbps": round(peak * rules.bufsize_ratio),
        "expected_vmaf": round(point.vmaf, 2), "measured_vmaf": round(point.vmaf, 2),
        "shots": [s.model_copy(update={"crf": c, "expected_kbps": round(k, 1), "expected_vmaf": round(v, 2),
                                       "max_bitrate_kbps": round(u * rules.maxrate_ratio),
                                       "bufsize_kbps": round(u * rules.bufsize_ratio)})
                  for s, c, k, v, u in zip(top.shots or [], chosen_crfs, result.kbps, result.vmaf, uncapped,
                                           strict=True)],
    })  # fmt: skip
    first = measured[0][0]
    note = (f"top rung verified shot by shot: expected VMAF {top.expected_vmaf or float('nan'):.1f} at mean CRF "
            f"{mean_crf:g}, measured {first.vmaf:.1f}" + (f"; mean CRF {point.encoder.crf:g} measures {point.vmaf:.1f}"
            if point is not first else "") + (" under its VBV caps" if capped else "")
            + f" ({len(measured)} check{'s' if len(measured) > 1 else ''}, {cpu_s:.1f} CPU s)")  # fmt: skip
    below = [r for r in ladder.rungs[1:] if r.bitrate_kbps * rules.min_bitrate_ratio <= rung.bitrate_kbps]
    return ladder.model_copy(update={"rungs": [rung, *below], "notes": [*ladder.notes, note],
                                     "decision_cpu_s": round(ladder.decision_cpu_s + cpu_s, 2)}), cpu_s  # fmt: skip


def _crf_for(crf: float, codec: Codec) -> float:
    """SVT-AV1 takes whole CRFs; x264 two decimals."""
    return round(crf, 2) if codec == "h264" else float(round(crf))


def _pooled(r: ShotTrialResult) -> float:
    return sum(v * n for v, n in zip(r.vmaf, r.frames, strict=True)) / max(1, sum(r.frames))


def _title_kbps(r: ShotTrialResult) -> float:
    return sum(k * n for k, n in zip(r.kbps, r.frames, strict=True)) / max(1, sum(r.frames))


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime

