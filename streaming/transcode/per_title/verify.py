"""Top-rung verification: encode a predicted ladder's top rung for real and correct its CRF.

The ladder predictor is least accurate exactly where it matters most to a viewer with bandwidth to
spare: at the quality ceiling. It overestimated AV1 quality there (top rungs promised VMAF 95
measured 88-93 on 720p clips), so the grid extension never triggered and the AV1 ladder stopped
short of the title's quality. One real encode of the top rung says how far off it is; while it is
under ``rules.top_vmaf`` by more than ``verify.tolerance_vmaf`` the CRF steps down (first step from
a slope guess, then the secant through the measurements), at most ``verify.max_steps`` times, or
until the CRF floor (the source cannot do better). With ``verify.tolerance_vmaf: 0`` (the default)
the check is one-sided: the published top rung, scored on every frame, must reach the ceiling
(a top rung at 94.1 passed a 1.0 tolerance and missed the acceptance's "top rung >= 95").

What is encoded: the same trial encode the hull search runs (:func:`.trials.run_trial`: the
rung's size, codec, CRF, GOP, minus the VBV cap, which is set from the measured bitrate
afterwards, as for hull rungs), at the rung's own preset (``grid.<codec>.publish_preset``, so the
trial -> publish offset is measured, not assumed) and scored on every frame (:func:`verify_spec`). Titles up to ``verify.full_title_max_s`` are encoded in full
(every clip we have is under 11 s, where a sample would save little and cost accuracy); longer
titles on ``verify.sample_segments`` segments spread evenly over the title (cut losslessly into
one sample file), so the cost stays a few segments however long the title is.

The other way round too: a top rung measured more than ``verify.overshoot_vmaf`` over the ceiling
steps its CRF up (a held-out predictor put bikes' top rung at VMAF 99.6 with 3x the bits its hull
needs for 95); lower rungs the cheaper top no longer clears by ``rules.min_bitrate_ratio`` go.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from streamlab.models.ladder.schema import Codec, Ladder, LadderRung, TrialPoint
from streamlab.models.ladder.settings import LadderOptimizerSettings
from streamlab.streaming.ffmpeg import run_ffmpeg
from streamlab.streaming.transcode.per_title.source import SourceFacts
from streamlab.streaming.transcode.per_title.trials import TrialSpec, _children_cpu_s, recall, remember, run_trial

CRF_FLOOR: dict[Codec, float] = {"h264": 10.0, "av1": 4.0}
"""Below these the encoders spend bits on noise the source does not show; the source 'cannot' beyond."""

CRF_CEILING: dict[Codec, float] = {"h264": 51.0, "av1": 63.0}


def verify_top_rung(facts: SourceFacts, ladder: Ladder, settings: LadderOptimizerSettings) -> Ladder:
    """``ladder`` with its top rung measured and, when it misses the ceiling's band, its CRF stepped toward it.

    The returned ladder's top rung carries ``measured_vmaf`` and the measured bitrate (its VBV cap
    rescaled); ``decision_cpu_s`` includes the verification encodes; a note says what happened.
    Rungs below are left as predicted (those the top no longer clears dropped). A ladder whose top
    rung has no CRF (fixed ABR) is returned unchanged.
    """
    verify = settings.verify
    top = ladder.rungs[0]
    crf = top.encoder.crf
    if not verify.enabled or crf is None:
        return ladder
    target = settings.rules.top_vmaf + verify.margin_vmaf
    with tempfile.TemporaryDirectory(prefix="ladder-verify-") as work:
        cpu_before = _children_cpu_s()
        reference, sampled = _reference(facts, settings, Path(work))

        def check(at_crf: float) -> TrialPoint:
            spec = verify_spec(facts, top, at_crf, reference, settings, Path(work))
            return _measure(spec, cache=not sampled)  # a sample is a new file each time: nothing to remember

        measured = [check(crf)]
        for _ in range(verify.max_steps):
            if _in_band(measured[-1], target, settings):
                break
            next_crf = _next_crf(measured, target, ladder.codec, settings)
            if next_crf is None:
                break
            measured.append(check(next_crf))
        cpu_s = _children_cpu_s() - cpu_before
    # The cheapest measurement that reaches the ceiling; else the best one (all the source gives).
    passing = [p for p in measured if p.vmaf >= target - verify.tolerance_vmaf]
    chosen = min(passing, key=lambda p: p.bitrate_kbps) if passing else max(measured, key=lambda p: p.vmaf)
    first = measured[0]
    rules = settings.rules
    rung = top.model_copy(update={
        "encoder": chosen.encoder.model_copy(update={"rate_control": top.encoder.rate_control}),
        "bitrate_kbps": chosen.bitrate_kbps,
        "max_bitrate_kbps": chosen.bitrate_kbps * rules.maxrate_ratio if top.max_bitrate_kbps else None,
        "bufsize_kbps": chosen.bitrate_kbps * rules.bufsize_ratio if top.bufsize_kbps else None,
        "expected_vmaf": round(chosen.vmaf, 2),
        "measured_vmaf": round(chosen.vmaf, 2),
    })  # fmt: skip
    where = f"a {verify.sample_segments}-segment sample" if sampled else "the full title"
    promised = top.expected_vmaf if top.expected_vmaf is not None else float("nan")
    note = (
        f"top rung verified on {where}: predicted VMAF {promised:.1f} at CRF {crf:g}, "
        f"measured {first.vmaf:.1f}"
        + (f"; CRF {chosen.encoder.crf:g} measures {chosen.vmaf:.1f}" if chosen is not first else "")
        + f" ({len(measured)} encode{'s' if len(measured) > 1 else ''}, {cpu_s:.1f} CPU s)"
    )
    # A top rung that got cheaper must stay the top: lower rungs it no longer clears by
    # rules.min_bitrate_ratio go (the rules merge rungs that close anyway).
    below = [r for r in ladder.rungs[1:] if r.bitrate_kbps * rules.min_bitrate_ratio <= rung.bitrate_kbps]
    return ladder.model_copy(update={
        "rungs": [rung, *below],
        "decision_cpu_s": round(ladder.decision_cpu_s + cpu_s, 2),
        "notes": [*ladder.notes, note],
    })  # fmt: skip


def _measure(spec: TrialSpec, *, cache: bool) -> TrialPoint:
    """One check encode, or the point remembered for the same source file and settings (:func:`.trials.recall`).

    A check is a pure function of the source and its settings like any trial, so an ingest run again on
    the same source (the demo re-run with ``skip=[features,train]`` re-ingests the same mezzanine)
    measures nothing twice: the demo's checks are about 5 minutes of its ingest on this box.
    """
    point = recall(spec) if cache else None
    if point is None:
        point = run_trial(spec)
        if cache:
            remember(spec, point)
    return point


def _in_band(point: TrialPoint, target: float, settings: LadderOptimizerSettings) -> bool:
    """Close enough to the ceiling: not under it by more than the tolerance, nor over it by more than the overshoot."""
    verify = settings.verify
    return target - verify.tolerance_vmaf <= point.vmaf <= target + verify.overshoot_vmaf


def _next_crf(
    measured: list[TrialPoint], target: float, codec: Codec, settings: LadderOptimizerSettings
) -> float | None:
    """The CRF expected to reach ``target``: secant of the last two measurements, else the configured slope."""
    verify = settings.verify
    last = measured[-1]
    crf = float(last.encoder.crf or 0.0)
    slope = verify.vmaf_per_crf[codec]
    if len(measured) >= 2:
        prev = measured[-2]
        dcrf = float(prev.encoder.crf or 0.0) - crf
        if dcrf and (last.vmaf - prev.vmaf) / dcrf > 0:  # quality falls as CRF rises; anything else is noise
            slope = (last.vmaf - prev.vmaf) / dcrf
    gap = target - last.vmaf  # > 0: under the ceiling, step down; < 0: over it, step up
    step = min(max(abs(gap) / max(slope, 1e-3), 1.0), verify.max_crf_step[codec])
    whole = float(round(crf - step) if gap > 0 else round(crf + step))  # whole CRFs: SVT-AV1 takes nothing else
    next_crf = min(max(whole, CRF_FLOOR[codec]), CRF_CEILING[codec])
    tried = {float(p.encoder.crf or 0.0) for p in measured}
    return next_crf if next_crf not in tried else None


def verify_spec(
    facts: SourceFacts, rung: LadderRung, crf: float, reference: Path, settings: LadderOptimizerSettings, work: Path
) -> TrialSpec:
    """The encode that measures ``rung`` at ``crf``: the rung's own encoder (its publish preset), scored on every frame.

    Trials score every ``grid.vmaf_subsample``-th frame (cheap, and fine for a hull's shape); the
    verified VMAF is a promise about the published rung, which viewers and the acceptance see in
    full, so it is scored in full (subsampled scores of bigbuckbunny's top rungs read 0.2-0.4 high).
    """
    return TrialSpec(
        source=str(reference),
        width=rung.width,
        height=rung.height,
        encoder=rung.encoder.model_copy(update={"crf": crf, "rate_control": "crf"}),
        fps_out=facts.fps_out,
        gop_frames=facts.gop_frames,
        segment_duration_s=facts.segment_duration_s,
        threads=check_threads(rung.encoder.codec, settings),
        vmaf_subsample=1,
        work_dir=str(work),
    )


def check_threads(codec: Codec, settings: LadderOptimizerSettings) -> int:
    """Threads for one check encode and its scoring: every core for SVT-AV1, the trials' count for x264.

    A check's steps run one after another (each CRF comes from the last measurement), so at the trials'
    one thread the AV1 check at the publish preset held one core for minutes while the other idled
    (the demo's ingest). SVT-AV1 writes the same bytes at any ``lp`` (checked at lp 1 and 2) and libvmaf's
    scores do not depend on ``n_threads``, so that costs nothing in what is measured. x264's frame
    threading does change its output, so H.264 checks keep ``grid.threads_per_task``: the published
    ladder stays what the check measured before.
    """
    if codec == "av1":
        return max(settings.grid.threads_per_task, os.cpu_count() or 1)
    return settings.grid.threads_per_task


def _reference(facts: SourceFacts, settings: LadderOptimizerSettings, work: Path) -> tuple[Path, bool]:
    """The source itself for short titles; else evenly spread segments cut losslessly into one file."""
    verify = settings.verify
    if facts.duration_s <= verify.full_title_max_s:
        return facts.path, False
    seg = facts.segment_duration_s
    n = verify.sample_segments
    spacing = (facts.duration_s - seg) / max(n - 1, 1)
    windows = "+".join(f"between(t,{i * spacing:.3f},{i * spacing + seg - 1e-3:.3f})" for i in range(n))
    out = work / "sample.mkv"
    run_ffmpeg(["-i", facts.path, "-map", "0:v:0", "-an", "-sn", "-dn",
                "-vf", f"select='{windows}',setpts=N/FRAME_RATE/TB", "-r", f"{facts.fps:g}",
                "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p", out],
               f"top-rung sample of {facts.path.name}")  # fmt: skip
    return out, True
