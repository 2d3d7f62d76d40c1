"""The discrete-event scaling model: coalesced origin load, queueing at the edge, overload, sizing."""

from __future__ import annotations

from streamlab.pipelines.peak.settings import SimulateSettings
from streamlab.pipelines.peak.simulate import (
    Scenario,
    TierCosts,
    costs_for_predictions,
    edges_needed,
    predict_scaling,
    simulate,
    validate,
)

COSTS = TierCosts(edge_ms=0.1, shield_ms=0.2, origin_ms=0.5)


def test_origin_load_depends_on_shields_not_viewers_or_edges() -> None:
    small = simulate(Scenario(1_000, 2, 2), COSTS, 3, 5_000)
    large = simulate(Scenario(100_000, 50, 2), COSTS, 3, 5_000)
    assert small.origin_requests_per_s == large.origin_requests_per_s == 2 * 3 * 2 * 3  # shields x rungs x 2 objects / part_s
    assert large.origin_requests_per_part_per_shield == 1.0


def test_delivery_grows_with_viewers_per_edge() -> None:
    light = simulate(Scenario(100, 1, 1), COSTS, 3, 5_000)
    heavy = simulate(Scenario(1_000, 1, 1), COSTS, 3, 5_000)
    assert heavy.part_delivery_p99_ms > light.part_delivery_p99_ms * 5
    assert not heavy.overloaded


def test_an_edge_past_its_capacity_is_overloaded_and_its_queue_grows_part_after_part() -> None:
    # 6,000 viewers x 0.1 ms per 333 ms part = 1.8 cores even at one request a part (viewers behind the live
    # edge shed the playlist reload, so a closed loop is overloaded only past that)
    over = simulate(Scenario(6_000, 1, 1), COSTS, 6, 5_000)
    assert over.overloaded and over.edge_demand > 1 and over.edge_utilization > 0.95
    assert over.part_delivery_p99_ms > 1000


def test_the_fluid_approximation_keeps_the_last_completion() -> None:
    exact = simulate(Scenario(4_000, 1, 1), COSTS, 2, 10_000)
    fluid = simulate(Scenario(4_000, 1, 1), COSTS, 2, 400)
    assert abs(fluid.part_delivery_p99_ms - exact.part_delivery_p99_ms) / exact.part_delivery_p99_ms < 0.05


def test_ten_million_viewers_need_edges_in_proportion_to_their_capacity() -> None:
    settings = SimulateSettings(viewers=[10_000, 10_000_000], edge_capacity_rps=20_000)
    assert edges_needed(10_000_000, settings, 1 / 3) == 4286  # 60 M req/s at 70 % of 20 k
    rows = predict_scaling(settings, COSTS)
    assert [r["edges"] for r in rows] == [5, 4286]
    assert rows[0]["shields"] == 4 and rows[1]["shields"] > 4  # 4,286 edges' fan-out outgrows 4 shields
    assert all(not r["overloaded"] for r in rows)


def test_validation_calibrates_on_the_smallest_run_and_predicts_the_others() -> None:
    run = {"engine": "varnish", "edges": 1, "shields": 1, "rungs_watched": 2, "part_s": 1 / 3,
           "cost_ms_per_request": {"edge": 0.1, "shield": 0.2, "origin": 0.5},
           "origin_media_requests_per_part_per_shield": 1.0}
    noise = [30.0 + q * 0.6 for q in range(101)]  # a measured spread: p50 60 ms, p99 ~89 ms
    rows = validate([run | {"viewers": 50, "part_delivery_p50_ms": 60.0, "part_delivery_p99_ms": 89.4,
                            "part_delivery_quantiles_ms": noise},
                     run | {"viewers": 2_000, "part_delivery_p50_ms": 200.0, "part_delivery_p99_ms": 300.0}],
                    SimulateSettings(parts=3))
    assert [r["calibration_run"] for r in rows] == [True, False]
    assert abs(rows[0]["predicted_p50_ms"] - 60.0) < 6.0 and abs(rows[0]["predicted_p99_ms"] - 89.4) < 9.0  # within 10 %
    assert rows[1]["predicted_p50_ms"] > rows[0]["predicted_p50_ms"] + 50  # 2,000 viewers queue at 0.1 ms each


def test_predictions_take_the_shield_cost_from_the_python_tier_and_the_noise_from_varnish() -> None:
    base = {"edges": 1, "shields": 1, "rungs_watched": 2, "part_s": 1 / 3, "viewers": 50,
            "origin_media_requests_per_part_per_shield": 1.0, "part_delivery_p50_ms": 60.0, "part_delivery_p99_ms": 90.0}
    runs = [base | {"engine": "python", "cost_ms_per_request": {"edge": 0.3, "shield": 0.3, "origin": 0.5},
                    "part_delivery_quantiles_ms": [500.0] * 101},
            base | {"engine": "varnish", "cost_ms_per_request": {"edge": 0.08, "shield": 7.0, "origin": 0.7},
                    "part_delivery_quantiles_ms": [40.0] * 101}]
    costs = costs_for_predictions(runs, SimulateSettings())
    assert costs.shield_ms == 0.3 and costs.origin_ms == 0.6
    assert max(costs.path_ms) < 100  # varnish's path, not python's
