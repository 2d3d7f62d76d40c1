"""Ladder rules on a known hull: top near VMAF 95, JND spacing, bitrate window and ratios, profiles."""

from __future__ import annotations

import math

import pytest

from streamlab.models.ladder.grid import encoder_for
from streamlab.models.ladder.hull import upper_hull
from streamlab.models.ladder.rules import select_rungs
from streamlab.models.ladder.schema import TrialPoint
from streamlab.models.ladder.settings import DeviceProfile, RuleSettings


def _point(width: int, height: int, crf: float, bitrate_kbps: float, vmaf: float, codec: str = "h264") -> TrialPoint:
    return TrialPoint(width=width, height=height, encoder=encoder_for(codec, "slow" if codec == "h264" else "8", None, crf),  # type: ignore[arg-type]
                      bitrate_kbps=bitrate_kbps, vmaf=vmaf, vmaf_p5=vmaf - 3, psnr_y=40, ssim=0.95,
                      encode_cpu_s=1, measure_cpu_s=1)  # fmt: skip


def _grid(codec: str = "h264") -> list[TrialPoint]:
    """Two resolutions with saturating (concave in log-rate) RD curves; 540p wins below ~1.5 Mbit/s."""
    crfs = [18, 23, 28, 33, 38] if codec == "h264" else [24, 32, 40, 48, 56]
    points = []
    for (w, h), top_kbps, ceiling, knee_kbps, loss in (
        ((1920, 1080), 12000, 100.0, 1500, 12),
        ((960, 540), 3000, 96.0, 750, 10),
    ):
        for i, crf in enumerate(crfs):
            rate = top_kbps / 2**i
            points.append(_point(w, h, crf, rate, ceiling - loss * (knee_kbps / rate) ** 0.6, codec))
    return points


def select_rungs_all(points: list[TrialPoint], rules: RuleSettings, codec: str):  # noqa: ANN201
    return select_rungs(upper_hull(points), rules, codec, points)  # type: ignore[arg-type]


RULES = RuleSettings(
    max_bitrate_kbps=20000, device_profiles={"mobile": DeviceProfile(max_height=720, max_bitrate_kbps=2000)}
)


def test_top_rung_is_near_the_target_quality_not_above() -> None:
    rungs = select_rungs_all(_grid(), RULES, "h264")
    assert rungs[0].expected_vmaf == pytest.approx(95.0, abs=0.5)
    assert all(r.expected_vmaf <= 95.5 for r in rungs)


def test_rungs_step_down_about_one_jnd_and_bitrate() -> None:
    rungs = select_rungs_all(_grid(), RULES, "h264")
    assert len(rungs) >= 3
    for upper, lower in zip(rungs, rungs[1:], strict=False):
        assert lower.bitrate_kbps < upper.bitrate_kbps
        assert upper.bitrate_kbps / lower.bitrate_kbps >= RULES.min_bitrate_ratio - 1e-9
        assert (
            upper.bitrate_kbps / lower.bitrate_kbps <= RULES.max_bitrate_ratio + 1e-9
            or upper.expected_vmaf - lower.expected_vmaf <= 7
        )


def test_low_rates_use_the_smaller_resolution() -> None:
    rungs = select_rungs_all(_grid(), RULES, "h264")
    assert rungs[0].height == 1080 and rungs[-1].height == 540


def test_interpolated_x264_crf_lies_between_grid_points() -> None:
    top = select_rungs_all(_grid(), RULES, "h264")[0]
    assert 18 < top.encoder.crf < 23 and top.encoder.rate_control == "capped_crf"
    assert top.max_bitrate_kbps == pytest.approx(top.bitrate_kbps * RULES.maxrate_ratio, abs=1)


def test_av1_crf_is_whole_and_errs_towards_quality() -> None:
    rungs = select_rungs_all(_grid("av1"), RULES, "av1")
    assert all(float(r.encoder.crf).is_integer() for r in rungs)
    assert rungs[0].expected_vmaf >= 95.0 - 1e-6


def test_bitrate_window_is_respected() -> None:
    rules = RULES.model_copy(update={"max_bitrate_kbps": 2500, "min_bitrate_kbps": 300})
    rungs = select_rungs_all(_grid(), rules, "h264")
    assert all(300 <= r.bitrate_kbps <= 2500 for r in rungs)


def test_wide_gaps_get_an_extra_rung() -> None:
    rules = RULES.model_copy(
        update={"vmaf_step": 20.0, "max_bitrate_ratio": 2.0, "min_bitrate_ratio": 1.2, "max_rungs": 10}
    )
    rungs = select_rungs_all(_grid(), rules, "h264")
    assert all(a.bitrate_kbps / b.bitrate_kbps <= 2.0 + 1e-6 for a, b in zip(rungs, rungs[1:], strict=False))


def test_rung_count_is_capped() -> None:
    rungs = select_rungs_all(_grid(), RULES.model_copy(update={"max_rungs": 2}), "h264")
    assert len(rungs) == 2


def test_mobile_profile_marks_only_rungs_within_its_caps() -> None:
    rungs = select_rungs_all(_grid(), RULES, "h264")
    mobile = [r for r in rungs if "mobile" in r.profiles]
    assert mobile and all(r.height <= 720 and r.bitrate_kbps <= 2000 for r in mobile)
    assert all("main" in r.profiles for r in rungs)


def test_a_title_that_never_reaches_the_target_tops_at_its_best_point() -> None:
    hard = [_point(1280, 720, c, 1000 * 2 ** (-i), 85 - 8 * i) for i, c in enumerate([18, 23, 28, 33])]
    rungs = select_rungs(upper_hull(hard), RULES, "h264")
    assert rungs[0].expected_vmaf == pytest.approx(85.0) and math.isclose(rungs[0].bitrate_kbps, 1000)
