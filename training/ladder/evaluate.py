"""Evaluate a ladder as a viewer would get it: encode every rung, score it against the source, and
compare the rate-quality curve with the fixed ladder's by BD-rate.

The fixed ladder is encoded by the VOD stack's own encoder (:func:`streamlab.streaming.transcode.encode.encode`,
CMAF segments at ``veryfast`` ABR), then its segments are joined (``init.mp4`` + ``seg_*.m4s`` is a
playable fragmented MP4) and scored. Per-title rungs are encoded with
:func:`streamlab.streaming.transcode.encoder_args.rung_video_args`, the arguments the stack is to use for them.
Bitrates are measured from the video packets, so muxing differences do not count. Every encode
is one Ray task; VMAF runs at full frame rate (no subsampling) here: these are the reported numbers.
"""

from __future__ import annotations

import resource
import shutil
import tempfile
from pathlib import Path

from pydantic import BaseModel

from streamlab.core.ray_runtime import map_tasks
from streamlab.models.ladder.bdrate import BDRateError, bd_rate, shared_range
from streamlab.models.ladder.schema import Ladder, LadderRung
from streamlab.streaming.ffmpeg import FFmpegError, run_ffmpeg
from streamlab.streaming.quality import QualityError, measure_quality
from streamlab.streaming.quality.video_info import read_video_info
from streamlab.streaming.transcode.encoder_args import rung_video_args
from streamlab.streaming.transcode.ladder import Rung
from streamlab.streaming.transcode.per_title.fixed import fixed_ladder, fixed_stack_rungs
from streamlab.streaming.transcode.per_title.selector import to_stack_rungs
from streamlab.streaming.transcode.per_title.source import SourceFacts


class MeasuredRung(BaseModel):
    rung: LadderRung
    bitrate_kbps: float
    vmaf: float
    vmaf_p5: float
    psnr_y: float
    ssim: float
    encode_cpu_s: float
    shot_vmaf: list[float] | None = None  # shot-based rungs: the measured pooled VMAF of each shot
    named_by_target: bool = False  # a fixed-ladder rung: the stack publishes it under its target bitrate

    @property
    def id(self) -> str:
        """The name the stack publishes this rendition under: a per-title rung by the bitrate it measured (ingest
        renames it so, :func:`~streamlab.streaming.transcode.encode.name_by_measurement`), a fixed rung by its target.
        ``rung.id`` is the optimizer's expectation (``720p_av1_1196k`` measured 820 kbit/s in a report)."""
        if self.named_by_target:
            return self.rung.id
        return self.rung.model_copy(update={"bitrate_kbps": self.bitrate_kbps}).id


class RungEncode(BaseModel):
    """One rendition to encode and score; ``stack_rung`` set: through the stack's own encoder."""

    source: str
    rung: LadderRung
    stack_rung: Rung | None = None
    facts_gop_frames: int
    fps_out: float | None
    segment_duration_s: float
    work_dir: str
    threads: int = 1
    vmaf_subsample: int = 1


class LadderEvaluation(BaseModel):
    source: str
    ladder: list[MeasuredRung]
    fixed: list[MeasuredRung]
    bd_rate_pct: float | None
    shared_vmaf_range: tuple[float, float] | None
    ladder_encode_cpu_s: float
    fixed_encode_cpu_s: float
    note: str = ""


def encode_and_score(job: RungEncode) -> MeasuredRung:
    """A Ray task: encode one rung, score it against the source, remove the encode."""
    work = Path(job.work_dir) / job.rung.id
    work.mkdir(parents=True, exist_ok=True)
    before = _children_cpu_s()
    try:
        if job.stack_rung is not None:
            from streamlab.streaming.ingest.settings import load_streaming_settings
            from streamlab.streaming.transcode.encode import EncodeJob, encode

            t = load_streaming_settings().transcode
            encode(EncodeJob(kind="video", source=Path(job.source), out_dir=work, segment_duration_s=job.segment_duration_s,
                             rung=job.stack_rung, fps=job.fps_out, gop_frames=job.facts_gop_frames, preset=t.x264_preset,
                             threads=job.threads, maxrate_ratio=t.maxrate_ratio, bufsize_ratio=t.bufsize_ratio))  # fmt: skip
            rendition = work / "rendition.mp4"
            with rendition.open("wb") as out:
                for part in [work / "init.mp4", *sorted(work.glob("seg_*.m4s"))]:
                    out.write(part.read_bytes())
        else:
            rendition = work / "rendition.mp4"
            args = rung_video_args(job.rung, gop_frames=job.facts_gop_frames, segment_duration_s=job.segment_duration_s,
                                   fps_out=job.fps_out, threads=job.threads)  # fmt: skip
            run_ffmpeg(["-i", job.source, *args, rendition], f"encoding rung {job.rung.id}")
        encode_cpu_s = _children_cpu_s() - before
        bitrate_kbps = read_video_info(rendition).bitrate_kbps
        report = measure_quality(rendition, Path(job.source), n_threads=job.threads, n_subsample=job.vmaf_subsample,
                                 keep_per_frame=bool(job.rung.shots))  # fmt: skip
        shot_vmaf = _per_shot(job.rung, report.per_frame.get("vmaf", []), job.vmaf_subsample,
                              read_video_info(Path(job.source)).fps if job.rung.shots else 0.0)  # fmt: skip
    except (FFmpegError, QualityError) as exc:
        raise QualityError(f"rung {job.rung.id}: {exc}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return MeasuredRung(rung=job.rung, bitrate_kbps=bitrate_kbps, vmaf=report.vmaf.mean, vmaf_p5=report.vmaf.p5,
                        psnr_y=report.psnr_y.mean, ssim=report.ssim.mean, encode_cpu_s=encode_cpu_s,
                        shot_vmaf=shot_vmaf)  # fmt: skip


def _per_shot(rung: LadderRung, per_frame: list[float], subsample: int, fps: float) -> list[float] | None:
    """Mean VMAF of each shot of a shot-based rung, from the per-frame scores (frame i at i / fps)."""
    if not rung.shots or not per_frame:
        return None
    fps = fps or 25.0
    out = []
    for shot in rung.shots:
        first, last = round(shot.start_s * fps), round((shot.start_s + shot.duration_s) * fps)
        scores = [v for i, v in enumerate(per_frame) if first <= i * subsample < last]
        out.append(round(sum(scores) / len(scores), 2) if scores else float("nan"))
    return out


def extended_for_comparison(ladder: Ladder, crf_steps: tuple[float, ...] | None = None) -> Ladder:
    """The ladder plus evaluation-only rungs above its top: the top rung's size and settings at lower CRFs.

    A per-title ladder stops near VMAF 95 on purpose; on small or easy sources the fixed ladder
    can sit entirely above that, leaving BD-rate no shared range. Extending the per-title *curve*
    (same encoder settings, more bits) measures the encoding efficiency over the fixed ladder's
    range. The extra rungs are never part of a published ladder.
    """
    top = max(ladder.rungs, key=lambda r: r.bitrate_kbps)
    if top.encoder.crf is None:
        return ladder
    steps = crf_steps or ((4.0, 8.0) if ladder.codec == "h264" else (8.0, 16.0))
    extra = [
        top.model_copy(update={
            "encoder": top.encoder.model_copy(update={"crf": max(1.0, top.encoder.crf - step), "rate_control": "crf"}),
            "bitrate_kbps": top.bitrate_kbps * (1 + step / 4), "max_bitrate_kbps": None, "bufsize_kbps": None,
            "expected_vmaf": None, "profiles": ["evaluation"],
        })
        for step in steps
    ]  # fmt: skip
    return ladder.model_copy(
        update={"rungs": extra + list(ladder.rungs), "notes": [*ladder.notes, "extended for evaluation"]}
    )


def evaluate_ladders(
    facts: SourceFacts, ladders: dict[str, Ladder], *, vmaf_subsample: int = 1
) -> dict[str, LadderEvaluation]:
    """Encode the fixed ladder once and every given ladder, all as one batch of Ray tasks; BD-rate each."""
    fixed = fixed_ladder(facts)
    stack_rungs = fixed_stack_rungs(facts)
    with tempfile.TemporaryDirectory(prefix="ladder-eval-") as tmp:
        common = dict(source=str(facts.path), facts_gop_frames=facts.gop_frames, fps_out=facts.fps_out,
                      segment_duration_s=facts.segment_duration_s, vmaf_subsample=vmaf_subsample)  # fmt: skip
        jobs = [
            RungEncode(rung=r, stack_rung=s, work_dir=f"{tmp}/fixed", **common)
            for r, s in zip(_by_rate(fixed.rungs), _by_rate_stack(stack_rungs), strict=False)
        ]
        owners = ["fixed"] * len(jobs)
        for name, ladder in ladders.items():
            stack = {r.id: r for r in to_stack_rungs(ladder)} if any(r.shots for r in ladder.rungs) else {}
            # shot-based rungs go through the stack's encoder: shot by shot, joined, as ingest publishes them
            jobs += [RungEncode(rung=r, stack_rung=stack.get(r.id) if r.shots else None, work_dir=f"{tmp}/{name}",
                                **common) for r in ladder.rungs]  # fmt: skip
            owners += [name] * len(ladder.rungs)
        measured = map_tasks(
            encode_and_score, jobs, f"encoding and scoring {len(jobs)} renditions of {facts.path.name}"
        )
    fixed_points = [m.model_copy(update={"named_by_target": True})
                    for m, o in zip(measured, owners, strict=False) if o == "fixed"]
    results: dict[str, LadderEvaluation] = {}
    for name in ladders:
        points = [m for m, o in zip(measured, owners, strict=False) if o == name]
        results[name] = _compare(str(facts.path), points, fixed_points)
    return results


def _compare(source: str, points: list[MeasuredRung], fixed: list[MeasuredRung]) -> LadderEvaluation:
    anchor = [(m.bitrate_kbps, m.vmaf) for m in fixed]
    test = [(m.bitrate_kbps, m.vmaf) for m in points]
    note = ""
    try:
        bd: float | None = bd_rate(anchor, test)
        shared: tuple[float, float] | None = shared_range(anchor, test)
    except BDRateError as exc:
        bd, shared, note = None, None, str(exc)
    return LadderEvaluation(
        source=source,
        ladder=sorted(points, key=lambda m: -m.bitrate_kbps),
        fixed=sorted(fixed, key=lambda m: -m.bitrate_kbps),
        bd_rate_pct=bd,
        shared_vmaf_range=shared,
        ladder_encode_cpu_s=sum(m.encode_cpu_s for m in points),
        fixed_encode_cpu_s=sum(m.encode_cpu_s for m in fixed),
        note=note,
    )


def rd_figure(evaluations: dict[str, LadderEvaluation], title: str):  # noqa: ANN201 (matplotlib Figure)
    """RD curves (bitrate on a log axis, VMAF) of the fixed ladder and each evaluated ladder."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    first = next(iter(evaluations.values()))
    fixed = sorted(first.fixed, key=lambda m: m.bitrate_kbps)
    ax.plot([m.bitrate_kbps for m in fixed], [m.vmaf for m in fixed], "k--o", label="fixed (stack, x264 veryfast ABR)")
    for name, ev in evaluations.items():
        pts = sorted(ev.ladder, key=lambda m: m.bitrate_kbps)
        bd = f"{ev.bd_rate_pct:+.1f}%" if ev.bd_rate_pct is not None else "n/a"
        ax.plot([m.bitrate_kbps for m in pts], [m.vmaf for m in pts], "-o", label=f"{name} (BD-rate {bd})")
        for m in pts:
            ax.annotate(
                f"{m.rung.height}p", (m.bitrate_kbps, m.vmaf), fontsize=7, xytext=(3, -8), textcoords="offset points"
            )
    return finish_rd_axes(fig, ax, "video bitrate (kbit/s, log)", "VMAF (vmaf_v0.6.1, vs source)", title, legend_size=8)


def finish_rd_axes(fig, ax, xlabel: str, ylabel: str, title: str, *, legend_size: int = 7):  # noqa: ANN001, ANN201
    """The frame every rate-quality plot shares: bitrate on a log axis (rungs are spaced by ratios), labels,
    a grid on both tick levels, the legend; returns ``fig``."""
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=legend_size)
    fig.tight_layout()
    return fig


def _by_rate(rungs: list[LadderRung]) -> list[LadderRung]:
    return sorted(rungs, key=lambda r: (-r.bitrate_kbps, -r.height))


def _by_rate_stack(rungs: list[Rung]) -> list[Rung]:
    return sorted(rungs, key=lambda r: (-r.bitrate_kbps, -r.height))


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
