"""Ladder rules: pick rungs from the convex hull (configs/ladder.yaml ``rules``).

1. The top rung is the cheapest hull point reaching ``top_vmaf`` (about 95: beyond it viewers
   see no difference, so bits spent there are waste), or the best point when the title cannot
   reach it within ``max_bitrate_kbps``.
2. Further rungs step down ``vmaf_step`` (about one just-noticeable difference, 6 VMAF) until
   ``min_vmaf``, the hull's low end or ``max_rungs``; the hull's cheapest point closes the ladder
   when it is still far enough below, so slow links keep a rung; and whatever ``min_vmaf`` says,
   the bottom rung averages at most ``lowest_throughput_kbps`` when the grid reaches that low (a
   poor picture beats a stalled one).
3. A bitrate gap wider than ``max_bitrate_ratio`` gets an extra rung at its geometric middle (an
   ABR player needs steps it can climb); rungs closer than ``min_bitrate_ratio`` are merged.
4. Each rung is tagged with the device profiles whose caps it fits (e.g. mobile: 720p, 2 Mbit/s).

A quality (or bitrate) target is met on each resolution's own RD curve by interpolating the CRF
between its grid points (VMAF linear, rate log-linear: accurate to a fraction of a VMAF point
within one grid step), and the resolution that meets it with the fewest bits (or the most VMAF)
wins: that is the hull, read between its measured points.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TypeVar

from streamlab.models.ladder.schema import Codec, LadderRung, TrialPoint
from streamlab.models.ladder.settings import RuleSettings

T = TypeVar("T")


def select_rungs(
    hull: Sequence[TrialPoint], rules: RuleSettings, codec: Codec, points: Sequence[TrialPoint] | None = None
) -> list[LadderRung]:
    """Rungs (highest bitrate first) from the hull (sorted by bitrate) and, for interpolation, all points.

    ``points`` (the whole grid) lets a target between two hull points of different resolutions be
    met on the better resolution's own curve instead of snapping to a grid point.
    """
    if not hull:
        raise ValueError("select_rungs needs at least one hull point")
    usable = [p for p in hull if rules.min_bitrate_kbps <= p.bitrate_kbps <= rules.max_bitrate_kbps]
    if not usable:  # every point outside the bitrate window: keep the one nearest to it
        usable = [min(hull, key=lambda p: _window_distance(p.bitrate_kbps, rules))]
    curves = _curves(points or hull, rules)
    chosen = _choose_points(usable, curves, rules, codec)
    chosen = _fill_gaps(chosen, usable, curves, rules, codec)
    chosen = _merge_close(chosen, rules)
    chosen = sorted(chosen, key=lambda p: -p.bitrate_kbps)
    if len(chosen) > rules.max_rungs:  # keep the top and the bottom: both are promises of the ladder
        chosen = [*chosen[: rules.max_rungs - 1], chosen[-1]]
    return [_rung(p, rules, codec) for p in chosen]


Curves = list[list[TrialPoint]]


def _curves(points: Sequence[TrialPoint], rules: RuleSettings) -> Curves:
    """One RD curve per (size, preset, tune), each its Pareto front by bitrate, inside the bitrate window."""
    groups: dict[tuple, list[TrialPoint]] = {}
    for p in points:
        groups.setdefault((p.width, p.height, p.encoder.preset, p.encoder.tune), []).append(p)
    curves = []
    for group in groups.values():
        front: list[TrialPoint] = []
        for p in sorted(group, key=lambda p: p.bitrate_kbps):
            if rules.min_bitrate_kbps <= p.bitrate_kbps <= rules.max_bitrate_kbps and (
                not front or p.vmaf > front[-1].vmaf
            ):
                front.append(p)
        if front:
            curves.append(front)
    return curves


def _choose_points(hull: list[TrialPoint], curves: Curves, rules: RuleSettings, codec: Codec) -> list[TrialPoint]:
    best = hull[-1]
    top = best if best.vmaf <= rules.top_vmaf else _at_vmaf(curves, rules.top_vmaf, codec) or best
    chosen = [top]
    target = top.vmaf - rules.vmaf_step
    while len(chosen) < rules.max_rungs and target >= max(rules.min_vmaf, hull[0].vmaf):
        point = _at_vmaf(curves, target, codec)
        if point is not None and point.bitrate_kbps < chosen[-1].bitrate_kbps:
            chosen.append(point)
        target -= rules.vmaf_step
    lowest = hull[0]
    if (
        len(chosen) < rules.max_rungs
        and lowest.vmaf >= rules.min_vmaf
        and chosen[-1].bitrate_kbps / lowest.bitrate_kbps >= rules.min_bitrate_ratio
        and chosen[-1].vmaf - lowest.vmaf >= rules.vmaf_step / 2
    ):
        chosen.append(lowest)
    if chosen[-1].bitrate_kbps > rules.lowest_throughput_kbps:  # the slowest link named must still get a rung
        bottom = _at_bitrate(curves, rules.lowest_throughput_kbps, codec) or lowest
        aim = rules.lowest_throughput_kbps
        for _ in range(8):  # AV1's whole CRFs round towards quality: aim lower until the rung fits the link
            if bottom.bitrate_kbps <= rules.lowest_throughput_kbps:
                break
            aim = min(aim * rules.lowest_throughput_kbps / bottom.bitrate_kbps, aim * 0.95)
            bottom = _at_bitrate(curves, aim, codec) or bottom
        if bottom.bitrate_kbps < chosen[-1].bitrate_kbps:
            chosen.append(bottom)
    return chosen


def _fill_gaps(
    points: list[TrialPoint], hull: list[TrialPoint], curves: Curves, rules: RuleSettings, codec: Codec
) -> list[TrialPoint]:
    points = sorted(points, key=lambda p: p.bitrate_kbps)
    for _ in range(rules.max_rungs):
        if len(points) >= rules.max_rungs or len(points) < 2:
            break
        ratio, i = max(
            (b.bitrate_kbps / a.bitrate_kbps, i) for i, (a, b) in enumerate(zip(points, points[1:], strict=False))
        )
        if ratio <= rules.max_bitrate_ratio:
            break
        middle = _at_bitrate(curves, math.sqrt(points[i].bitrate_kbps * points[i + 1].bitrate_kbps), codec)
        if middle is None or not points[i].bitrate_kbps < middle.bitrate_kbps < points[i + 1].bitrate_kbps:
            break
        points.insert(i + 1, middle)
    return points


def merge_close(points: list[T], rules: RuleSettings, kbps: Callable[[T], float]) -> list[T]:
    """Keep rungs at least ``min_bitrate_ratio`` apart, walking down from the top rung (``kbps`` reads a rung's
    rate: hull points and the shot-based optimizer's allocations follow the same rule)."""
    ordered = sorted(points, key=lambda p: -kbps(p))
    kept: list[T] = []
    for point in ordered:
        if not kept or kbps(kept[-1]) / kbps(point) >= rules.min_bitrate_ratio:
            kept.append(point)
        elif point is ordered[-1] and len(kept) > 1:  # the bottom covers the slowest link: it replaces its neighbour
            kept[-1] = point
    return kept


def _merge_close(points: list[TrialPoint], rules: RuleSettings) -> list[TrialPoint]:
    return merge_close(points, rules, lambda p: p.bitrate_kbps)


def _at_vmaf(curves: Curves, vmaf: float, codec: Codec) -> TrialPoint | None:
    """The cheapest way to reach ``vmaf`` on any resolution's curve (CRF interpolated); None if none can."""
    options = []
    for curve in curves:
        for a, b in zip(curve, curve[1:], strict=False):
            if a.vmaf <= vmaf <= b.vmaf:
                options.append(_between(a, b, (vmaf - a.vmaf) / (b.vmaf - a.vmaf), codec))
                break
        else:
            if curve[0].vmaf >= vmaf:
                options.append(curve[0])
    return min(options, key=lambda p: p.bitrate_kbps) if options else None


def _at_bitrate(curves: Curves, bitrate_kbps: float, codec: Codec) -> TrialPoint | None:
    """The best quality any resolution's curve gives at ``bitrate_kbps`` (CRF interpolated)."""
    options = []
    for curve in curves:
        for a, b in zip(curve, curve[1:], strict=False):
            if a.bitrate_kbps <= bitrate_kbps <= b.bitrate_kbps:
                frac = math.log(bitrate_kbps / a.bitrate_kbps) / math.log(b.bitrate_kbps / a.bitrate_kbps)
                options.append(_between(a, b, frac, codec))
                break
    return max(options, key=lambda p: p.vmaf) if options else None


def _between(a: TrialPoint, b: TrialPoint, frac: float, codec: Codec) -> TrialPoint:
    """A point ``frac`` of the way from a to b on one curve: CRF linear, VMAF linear, rate log-linear."""
    if a.encoder.crf is None or b.encoder.crf is None:
        return b if frac >= 0.5 else a
    crf = a.encoder.crf + frac * (b.encoder.crf - a.encoder.crf)
    if codec == "av1":  # SVT-AV1 takes whole CRFs: round towards the better quality (b), then re-place it
        crf = float(math.floor(crf + 1e-9) if b.encoder.crf < a.encoder.crf else math.ceil(crf - 1e-9))
        span = b.encoder.crf - a.encoder.crf
        frac = (crf - a.encoder.crf) / span if span else 0.0
    else:
        crf = round(crf, 1)
    return TrialPoint(
        width=a.width,
        height=a.height,
        encoder=a.encoder.model_copy(update={"crf": crf}),
        bitrate_kbps=math.exp(math.log(a.bitrate_kbps) + frac * math.log(b.bitrate_kbps / a.bitrate_kbps)),
        vmaf=a.vmaf + frac * (b.vmaf - a.vmaf),
        vmaf_p5=a.vmaf_p5 + frac * (b.vmaf_p5 - a.vmaf_p5),
        psnr_y=a.psnr_y + frac * (b.psnr_y - a.psnr_y),
        ssim=a.ssim + frac * (b.ssim - a.ssim),
        encode_cpu_s=0.0,
        measure_cpu_s=0.0,
    )


def device_profiles(width: int, height: int, bitrate_kbps: float, rules: RuleSettings) -> list[str]:
    """``main`` plus every device profile whose caps (short side, average bitrate) the rung fits."""
    profiles = ["main"]
    for name, profile in rules.device_profiles.items():
        fits_height = profile.max_height is None or min(width, height) <= profile.max_height
        fits_rate = profile.max_bitrate_kbps is None or bitrate_kbps <= profile.max_bitrate_kbps
        if fits_height and fits_rate:
            profiles.append(name)
    return profiles


def _rung(point: TrialPoint, rules: RuleSettings, codec: Codec) -> LadderRung:
    profiles = device_profiles(point.width, point.height, point.bitrate_kbps, rules)
    return LadderRung(
        width=point.width,
        height=point.height,
        codec=codec,
        bitrate_kbps=round(point.bitrate_kbps, 1),
        max_bitrate_kbps=round(point.bitrate_kbps * rules.maxrate_ratio),
        bufsize_kbps=round(point.bitrate_kbps * rules.bufsize_ratio),
        encoder=point.encoder.model_copy(update={"rate_control": "capped_crf"}),
        expected_vmaf=round(point.vmaf, 2),
        profiles=profiles,
    )


def _window_distance(bitrate_kbps: float, rules: RuleSettings) -> float:
    if bitrate_kbps < rules.min_bitrate_kbps:
        return math.log(rules.min_bitrate_kbps / bitrate_kbps)
    return math.log(bitrate_kbps / rules.max_bitrate_kbps)
