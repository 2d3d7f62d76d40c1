"""The dynamic optimizer on synthetic per-shot curves: Lagrangian choice, bisection targets, worst-shot floor."""

from __future__ import annotations

import math

import pytest

from streamlab.models.ladder.dynamic import Shot, ShotOption, allocate, densify, linear_hull, shot_ladder
from streamlab.models.ladder.grid import extension_crfs
from streamlab.models.ladder.settings import RuleSettings
from streamlab.streaming.transcode.per_title.shots import snap_to_segments


def curve(start: float, easy: float, crfs=(18, 24, 30, 36, 42)) -> Shot:
    """A shot whose rate halves every 6 CRF; ``easy`` shifts its VMAF up (a static shot) or down (action)."""
    options = tuple(
        ShotOption(crf=c, kbps=4000 * 2 ** (-(c - 18) / 6) / (1 + easy / 20), vmaf=min(100.0, 99 + easy - 1.1 * (c - 18)))
        for c in crfs
    )
    return Shot(start_s=start, duration_s=2.0, frames=50, options=options)


SHOTS = [curve(0, 0.0), curve(2, 6.0), curve(4, -5.0), curve(6, 3.0)]


def test_densify_interpolates_crf_steps_between_measured_points() -> None:
    dense = densify(SHOTS[0].options, 1.0)
    assert [o.crf for o in dense] == [float(c) for c in range(18, 43)]
    mid = next(o for o in dense if o.crf == 21)
    assert mid.kbps == pytest.approx(math.sqrt(4000 * 2000), rel=1e-6)


def test_linear_hull_drops_points_a_slope_never_picks() -> None:
    points = [ShotOption(30, 100, 60), ShotOption(30, 200, 70), ShotOption(30, 300, 71), ShotOption(30, 400, 90)]
    assert [o.kbps for o in linear_hull(points)] == [100, 400]


def test_quality_target_is_met_with_fewer_bits_than_one_crf_for_all() -> None:
    target = 85.0
    shot_based = allocate(SHOTS, width=640, height=360, target_vmaf=target, crf_step=1.0)
    assert shot_based.vmaf >= target
    # the best single CRF reaching the same pooled VMAF (what a whole-title rung does)
    single = min(
        (allocate([Shot(s.start_s, s.duration_s, s.frames, tuple(o for o in densify(s.options, 1) if o.crf == c))
                   for s in SHOTS], width=640, height=360, target_vmaf=0, crf_step=1.0) for c in range(18, 43)),
        key=lambda a: (a.vmaf < target, a.kbps),
    )  # fmt: skip
    assert single.vmaf >= target and shot_based.kbps < single.kbps
    assert len({c.crf for c in shot_based.choices}) > 1  # shots really got different operating points


def test_bitrate_target_bisection_lands_within_the_budget() -> None:
    for budget in (400.0, 900.0, 2000.0):
        a = allocate(SHOTS, width=640, height=360, target_kbps=budget, crf_step=1.0)
        assert a.kbps <= budget * 1.0001
        richer = allocate(SHOTS, width=640, height=360, target_kbps=budget * 1.5, crf_step=1.0)
        assert richer.vmaf >= a.vmaf


def test_worst_shot_floor_lifts_the_hard_shot() -> None:
    free = allocate(SHOTS, width=640, height=360, target_vmaf=80.0, crf_step=1.0)
    floored = allocate(SHOTS, width=640, height=360, target_vmaf=80.0, floor_vmaf=74.0, crf_step=1.0)
    assert free.worst_vmaf < 74.0 <= floored.worst_vmaf  # without the floor the action shot sinks
    assert floored.vmaf >= 80.0


def test_shot_ladder_reaches_the_ceiling_and_covers_the_lowest_throughput() -> None:
    rules = RuleSettings(top_vmaf=95.0, lowest_throughput_kbps=300)
    small = [Shot(s.start_s, s.duration_s, s.frames, tuple(ShotOption(o.crf, o.kbps / 3, o.vmaf - 8) for o in s.options))
             for s in SHOTS]  # fmt: skip
    rungs = shot_ladder({(1280, 720): SHOTS, (640, 360): small}, rules, "av1", preset="8", tune=None,
                        jnd_vmaf=6.0, crf_step=1.0)  # fmt: skip
    assert rungs[0].expected_vmaf >= 95.0 and rungs[-1].bitrate_kbps <= 300
    assert all(a.bitrate_kbps > b.bitrate_kbps for a, b in zip(rungs, rungs[1:], strict=False))
    for rung in rungs[:-1]:
        assert min(s.expected_vmaf for s in rung.shots) >= rung.expected_vmaf - 6.0 - 1e-6
        assert all(float(s.crf).is_integer() for s in rung.shots)  # SVT-AV1 takes whole CRFs
    assert [s.start_s for s in rungs[0].shots] == [0, 2, 4, 6]


def test_top_rung_aims_over_the_ceiling_by_the_margin_and_costs_more_for_it() -> None:
    rules = RuleSettings(top_vmaf=95.0, lowest_throughput_kbps=300)
    kw = dict(preset="slow", tune=None, jnd_vmaf=6.0, crf_step=1.0)
    plain = shot_ladder({(1280, 720): SHOTS}, rules, "h264", **kw)[0]
    margin = shot_ladder({(1280, 720): SHOTS}, rules, "h264", top_margin_vmaf=1.0, **kw)[0]
    assert plain.expected_vmaf < 96.0 <= margin.expected_vmaf
    assert margin.bitrate_kbps > plain.bitrate_kbps


def _saturating(start: float) -> Shot:  # VMAF flattens at the top: equal VMAF steps are far apart in rate there
    return Shot(start_s=start, duration_s=2.0, frames=50, options=tuple(
        ShotOption(crf=c, kbps=3000 * 2 ** (-(c - 20) / 5), vmaf=100 - 4 * 1.13 ** (c - 20)) for c in range(20, 52, 4)))  # fmt: skip


def test_a_full_ladder_still_fills_a_wide_gap_at_the_top() -> None:
    """Six rungs a JND apart down to the floor, the top one 3x the next: the gap rule wins over the rung that
    the ladder misses least (bigbuckbunny AV1 published 1.86 Mbit/s -> 0.47 Mbit/s, 4x, with 89 kbit/s at VMAF 52)."""
    rules = RuleSettings(top_vmaf=95.0, vmaf_step=10.0, min_bitrate_kbps=50, lowest_throughput_kbps=300, max_rungs=6)
    rungs = shot_ladder({(1280, 720): [_saturating(0), _saturating(2)]}, rules, "av1", preset="6", tune=None,
                        jnd_vmaf=6.0, crf_step=1.0)  # fmt: skip
    rates = [r.bitrate_kbps for r in rungs]
    assert len(rungs) == 6 and rungs[0].expected_vmaf >= 95.0 and rates[-1] <= 300
    assert max(a / b for a, b in zip(rates, rates[1:], strict=False)) <= rules.max_bitrate_ratio


def test_a_rung_under_the_bitrate_floor_does_not_take_the_slot_a_wide_gap_needs() -> None:
    saturating = _saturating
    rules = RuleSettings(top_vmaf=95.0, min_bitrate_kbps=300, lowest_throughput_kbps=300, max_rungs=6)
    rungs = shot_ladder({(1280, 720): [saturating(0), saturating(2)]}, rules, "h264", preset="slow", tune=None,
                        jnd_vmaf=6.0, crf_step=1.0)  # fmt: skip
    rates = [r.bitrate_kbps for r in rungs]
    assert len(rungs) == 6 and min(rates) >= 300
    assert max(a / b for a, b in zip(rates, rates[1:], strict=False)) <= rules.max_bitrate_ratio
    # a source whose every rung but the top is under the floor keeps a one-rung ladder (no gap to fill)
    tiny = RuleSettings(top_vmaf=95.0, min_bitrate_kbps=2000, lowest_throughput_kbps=300, max_rungs=6)
    only = shot_ladder({(1280, 720): [saturating(0), saturating(2)]}, tiny, "h264", preset="slow", tune=None,
                       jnd_vmaf=6.0, crf_step=1.0)  # fmt: skip
    assert [r.bitrate_kbps >= 2000 for r in only] == [True]


def test_cuts_snap_to_the_segment_grid() -> None:
    # 2 s segments: a cut at 2.9 s moves to the nearest boundary (2 s), 6.2 s to 6 s; the last shot is short
    assert snap_to_segments([2.9, 6.2], 9.0, 2.0, 10) == [(0.0, 2.0), (2.0, 4.0), (6.0, 3.0)]
    assert snap_to_segments([0.4, 9.8], 10.0, 2.0, 10) == [(0.0, 10.0)]  # cuts nearer the ends: one shot
    assert len(snap_to_segments([2, 4, 6], 9.0, 2.0, 2)) == 2  # bounded


def test_grid_extends_past_its_end_only_when_a_promise_is_missed() -> None:
    assert extension_crfs(92.0, 150.0, [24, 32, 40], "av1", 95.0, 300) == ([16.0], [])
    assert extension_crfs(97.0, 500.0, [24, 32, 40], "av1", 95.0, 300) == ([], [48.0])
    assert extension_crfs(97.0, 150.0, [24, 32, 40], "av1", 95.0, 300) == ([], [])
    assert extension_crfs(90.0, 150.0, [10, 20], "h264", 95.0, 300) == ([], [])  # the encoder's bound


def test_predicted_grid_below_the_ceiling_gets_one_saturating_step_beyond_it() -> None:
    from streamlab.models.ladder.decide import extend_predicted, ladder_from_points
    from streamlab.models.ladder.grid import encoder_for
    from streamlab.models.ladder.schema import TrialPoint
    from streamlab.models.ladder.settings import load_ladder_settings

    settings = load_ladder_settings(["grid.av1.crf=[24,32,40,48,56]"])

    def point(w: int, h: int, crf: float, kbps: float, vmaf: float) -> TrialPoint:
        return TrialPoint(width=w, height=h, encoder=encoder_for("av1", "8", None, crf), bitrate_kbps=kbps,
                          vmaf=vmaf, vmaf_p5=vmaf - 3, psnr_y=0, ssim=0, encode_cpu_s=0, measure_cpu_s=0)  # fmt: skip

    points = [point(1280, 720, c, 3000 / 2 ** ((c - 24) / 8), 92 - 4 * (c - 24) / 8) for c in (24, 32, 40, 48, 56)]
    points += [point(640, 360, c, 900 / 2 ** ((c - 24) / 8), 80 - 5 * (c - 24) / 8) for c in (24, 32, 40, 48, 56)]
    before = ladder_from_points(points, "av1", settings.rules, source="x", segment_duration_s=4, method="predicted")
    extended = extend_predicted(points, "av1", settings)
    after = ladder_from_points(extended, "av1", settings.rules, source="x", segment_duration_s=4, method="predicted")
    assert before.rungs[0].expected_vmaf == 92.0  # the old ceiling: wherever CRF 24 was
    new = extended[-1]
    assert new.encoder.crf == 16 and new.bitrate_kbps == pytest.approx(6000) and 92 < new.vmaf < 100
    assert new.vmaf == pytest.approx(100 - 8 * (8 / 12))  # the gap to 100 shrinks 12 -> 8 -> 5.33
    assert after.rungs[0].expected_vmaf >= 94.6
