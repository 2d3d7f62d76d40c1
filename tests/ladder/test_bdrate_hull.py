"""BD-rate on curves with known answers, and the convex hull of trial points."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from streamlab.models.ladder.bdrate import BDRateError, bd_rate
from streamlab.models.ladder.hull import pareto_front, upper_hull

ANCHOR = [(500.0, 70.0), (1000.0, 80.0), (2000.0, 88.0), (4000.0, 94.0)]


@pytest.mark.parametrize("method", ["pchip", "cubic"])
def test_bd_rate_of_a_curve_scaled_by_a_constant_is_that_constant(method: str) -> None:
    test = [(r * 0.8, q) for r, q in ANCHOR]
    assert bd_rate(ANCHOR, test, method=method) == pytest.approx(-20.0, abs=1e-9)
    assert bd_rate(test, ANCHOR, method=method) == pytest.approx(25.0, abs=1e-9)


def test_bd_rate_of_identical_curves_is_zero() -> None:
    assert bd_rate(ANCHOR, ANCHOR) == pytest.approx(0.0, abs=1e-12)


def test_bd_rate_integrates_only_the_shared_quality_range() -> None:
    # Half the rate over 70-80 only; beyond it the test curve would be far cheaper if extrapolated.
    anchor = [(10 ** (2 + q / 50), q) for q in (60, 70, 80, 90)]
    test = [(0.5 * 10 ** (2 + q / 50), q) for q in (70, 80)]
    assert bd_rate(anchor, test) == pytest.approx(-50.0, abs=1e-9)


def test_bd_rate_linear_log_rate_matches_closed_form() -> None:
    # log10(r) linear in q on both curves, offset varying: the integral has a closed form.
    anchor = [(10 ** (2 + q / 50), q) for q in (60, 70, 80, 90)]
    test = [(10 ** (2 + q / 50 - 0.1 - (q - 60) / 300), q) for q in (60, 70, 80, 90)]
    mean_offset = -0.1 - (75 - 60) / 300
    assert bd_rate(anchor, test) == pytest.approx((10**mean_offset - 1) * 100, abs=1e-6)


def test_bd_rate_refuses_curves_without_overlap() -> None:
    with pytest.raises(BDRateError, match="share no quality range"):
        bd_rate(ANCHOR, [(100.0, 40.0), (200.0, 50.0)])


def test_bd_rate_refuses_a_single_point_curve() -> None:
    with pytest.raises(BDRateError, match="1 useful points"):
        bd_rate(ANCHOR, [(100.0, 80.0), (200.0, 79.0)])


@dataclass
class Pt:
    bitrate_kbps: float
    vmaf: float
    label: str = ""


def test_pareto_front_drops_dominated_points() -> None:
    points = [Pt(100, 50), Pt(150, 45), Pt(200, 70), Pt(250, 69)]
    assert [p.bitrate_kbps for p in pareto_front(points)] == [100, 200]


def test_upper_hull_takes_the_best_resolution_at_each_rate() -> None:
    small = [Pt(100, 60, "s"), Pt(200, 72, "s"), Pt(400, 78, "s"), Pt(800, 80, "s")]
    large = [Pt(200, 55, "l"), Pt(400, 82, "l"), Pt(800, 90, "l"), Pt(1600, 96, "l")]
    hull = upper_hull(small + large)
    assert [(p.label, p.bitrate_kbps) for p in hull] == [("s", 100), ("s", 200), ("l", 400), ("l", 800), ("l", 1600)]


def test_upper_hull_removes_points_below_the_chord() -> None:
    points = [Pt(100, 50), Pt(200, 55), Pt(400, 70)]  # 55 lies below the chord from 50 to 70 in log-rate
    assert [p.bitrate_kbps for p in upper_hull(points)] == [100, 400]
