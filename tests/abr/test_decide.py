"""The family's one decision (what ``abr/decide`` answers) without HTTP: request validation, any ladder, the BOLA fallback."""

from __future__ import annotations

import time
import tracemalloc

import pytest
from pydantic import ValidationError

from streamlab.models.abr.policies.learned import load_learned
from streamlab.models.abr.decide import (
    MAX_CHUNK_SIZES,
    MAX_LADDER_RUNGS,
    MAX_SAMPLES_ON_WIRE,
    AbrDecideRequest,
    decide,
    decide_bola,
    size_matrix,
)


@pytest.fixture(scope="module")
def policy():
    return load_learned()


def state(rates, **changes) -> dict:
    base = {
        "buffer_s": 12.0,
        "last_rung": 0,
        "chunks_remaining": 20,
        "samples": [{"bytes": 600_000, "download_ms": 1200.0}] * 6,
        "ladder": [{"bitrate_kbps": r} for r in rates],
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"last_rung": 4}, "last_rung 4 is not a rung"),
        ({"ladder": []}, "ladder"),
        ({"ladder": [{"bitrate_kbps": 800}, {"bitrate_kbps": 400}]}, "increase strictly"),
        ({"ladder": [{"bitrate_kbps": 400}, {"bitrate_kbps": 400}]}, "increase strictly"),
        ({"ladder": [{"bitrate_kbps": 400, "chunk_sizes_bytes": [0]}]}, "positive byte counts"),
        ({"buffer_s": -1.0}, "buffer_s"),
        ({"chunks_remaining": 0}, "chunks_remaining"),
        ({"samples": [{"bytes": 100, "download_ms": 0}]}, "download_ms"),
    ],
)
def test_bad_state_is_rejected_with_the_field_named(changes, needle) -> None:
    with pytest.raises(ValidationError, match=needle):
        AbrDecideRequest.model_validate(state((400, 800, 1600), **changes))


@pytest.mark.parametrize("rates", [(1000,), (235, 750), (200, 400, 800, 1600, 3200, 4500, 6000, 8000, 12000)])
def test_learned_policy_handles_any_rung_count(policy, rates) -> None:
    decision = decide(policy, AbrDecideRequest.model_validate(state(rates)))
    assert 0 <= decision.rung < len(rates) and decision.reason.startswith("learned")


def test_fast_link_and_full_buffer_go_high_slow_link_goes_low(policy) -> None:
    rates = (300, 750, 1200, 1850, 2850, 4300)
    fast = state(rates, buffer_s=30.0, last_rung=5, samples=[{"bytes": 4_000_000, "download_ms": 1000.0}] * 8)
    slow = state(rates, buffer_s=2.0, last_rung=0, samples=[{"bytes": 40_000, "download_ms": 1000.0}] * 8)
    assert decide(policy, AbrDecideRequest.model_validate(fast)).rung == 5
    assert decide(policy, AbrDecideRequest.model_validate(slow)).rung == 0


def test_switch_margin_keeps_the_previous_rung_unless_switching_gains_more_than_it(policy) -> None:
    """Hysteresis: a plan away from ``last_rung`` must beat the best plan that stays there by the margin."""
    from dataclasses import replace

    from streamlab.models.abr.policies.learned import LearnedPolicy

    rates = (300, 750, 1200, 1850, 2850, 4300)
    fast = AbrDecideRequest.model_validate(
        state(rates, buffer_s=30.0, last_rung=3, samples=[{"bytes": 4_000_000, "download_ms": 1000.0}] * 8))

    def with_margin(margin: float) -> int:
        return decide(LearnedPolicy(policy.net, replace(policy.knobs, switch_margin=margin)), fast).rung

    assert with_margin(0.0) == 5  # the plain argmax goes to the top
    assert with_margin(1e-6) == 5  # a tiny margin changes nothing when the gain is large
    assert with_margin(1000.0) == 3  # a margin no switch can beat holds the rung


def test_switch_margin_never_delays_a_step_down(policy) -> None:
    """Holding a rung the link no longer carries turns a drop into a stall: steps down do not wait."""
    from dataclasses import replace

    from streamlab.models.abr.policies.learned import LearnedPolicy

    rates = (300, 750, 1200, 1850, 2850, 4300)
    slow = AbrDecideRequest.model_validate(
        state(rates, buffer_s=3.0, last_rung=5, samples=[{"bytes": 60_000, "download_ms": 1000.0}] * 8))
    cautious = LearnedPolicy(policy.net, replace(policy.knobs, switch_margin=1000.0))
    assert decide(cautious, slow).rung == decide(policy, slow).rung < 5


def test_per_title_chunk_sizes_are_used(policy) -> None:
    """A rung whose next chunks are huge costs what they weigh, not its nominal bitrate."""
    samples = [{"bytes": 1_000_000, "download_ms": 1000.0}] * 8  # 8 Mbit/s
    light = [{"bitrate_kbps": 500}, {"bitrate_kbps": 4000}]
    heavy = [{"bitrate_kbps": 500}, {"bitrate_kbps": 4000, "chunk_sizes_bytes": [40_000_000] * 5}]
    common = {"buffer_s": 4.0, "last_rung": 0, "samples": samples}
    assert decide(policy, AbrDecideRequest.model_validate(state((), **common, ladder=light))).rung == 1
    assert decide(policy, AbrDecideRequest.model_validate(state((), **common, ladder=heavy))).rung == 0


def test_size_matrix_fills_from_bitrate_and_repeats_the_last_given_size() -> None:
    request = AbrDecideRequest.model_validate(
        state(
            (),
            segment_duration_s=2.0,
            ladder=[{"bitrate_kbps": 800}, {"bitrate_kbps": 1600, "chunk_sizes_bytes": [5, 7]}],
        )
    )
    sizes = size_matrix(request, 3)
    assert sizes[0].tolist() == [200_000.0] * 3 and sizes[1].tolist() == [5.0, 7.0, 7.0]


def test_bola_picks_lowest_on_an_empty_buffer_and_highest_on_a_full_one() -> None:
    rates = (300, 750, 1200, 1850, 2850, 4300)
    assert decide_bola(AbrDecideRequest.model_validate(state(rates, buffer_s=0.0))).rung == 0
    assert decide_bola(AbrDecideRequest.model_validate(state(rates, buffer_s=40.0))).rung == 5


def test_no_samples_yet_starts_at_the_lowest_rung(policy) -> None:
    decision = decide(policy, AbrDecideRequest.model_validate(state((400, 800), samples=[])))
    assert decision.rung == 0 and "no throughput" in decision.reason


def test_short_segments_are_planned_as_stretched_four_second_chunks(policy) -> None:
    """2 s segments with buffer b and sizes S decide as 4 s chunks with buffer 2b and sizes 2S."""
    samples = [{"bytes": 300_000, "download_ms": 900.0 + 40 * i} for i in range(6)]
    rates = (400, 900, 1800, 3500)
    short = state(
        (),
        buffer_s=5.0,
        segment_duration_s=2.0,
        samples=samples,
        ladder=[{"bitrate_kbps": r, "chunk_sizes_bytes": [r * 250]} for r in rates],
    )
    long = state(
        (),
        buffer_s=10.0,
        segment_duration_s=4.0,
        samples=samples,
        ladder=[{"bitrate_kbps": r, "chunk_sizes_bytes": [r * 500]} for r in rates],
    )
    decisions = [decide(policy, AbrDecideRequest.model_validate(s)) for s in (short, long)]
    assert decisions[0].rung == decisions[1].rung
    assert decisions[0].reason.split("plan")[1] == decisions[1].reason.split("plan")[1]  # the whole plan agrees


def big_ladder(rungs: int) -> list[dict]:
    return [{"bitrate_kbps": 100 + 50 * i} for i in range(rungs)]


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"ladder": big_ladder(MAX_LADDER_RUNGS + 1)}, "ladder"),
        ({"samples": [{"bytes": 600_000, "download_ms": 1200.0}] * (MAX_SAMPLES_ON_WIRE + 1)}, "samples"),
        ({"ladder": [{"bitrate_kbps": 400, "chunk_sizes_bytes": [1000] * (MAX_CHUNK_SIZES + 1)}]}, "chunk_sizes_bytes"),
    ],
)
def test_oversized_fields_are_refused_by_the_wire_type(changes, needle) -> None:
    with pytest.raises(ValidationError, match=needle):
        AbrDecideRequest.model_validate(state((400, 800, 1600), **changes))


def test_ten_thousand_rungs_are_refused_before_any_work() -> None:
    """Issue 20: 10,000 rungs once tried to allocate a 3.7 GiB plan table; the refusal must cost nothing."""
    body = state((), ladder=big_ladder(10_000))
    started = time.perf_counter()
    with pytest.raises(ValidationError, match="at most"):
        AbrDecideRequest.model_validate(body)
    elapsed_s = time.perf_counter() - started
    tracemalloc.start()  # separately: tracing slows the call down several times
    with pytest.raises(ValidationError):
        AbrDecideRequest.model_validate(body)
    _, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed_s < 0.05 and peak_bytes < 5_000_000


@pytest.mark.parametrize("rungs", [8, 16, MAX_LADDER_RUNGS])
def test_the_planner_work_is_bounded_for_any_allowed_rung_count(policy, rungs) -> None:
    """Plans grow as rungs ** free steps; the free steps shrink so a decision stays within MAX_PLANS."""
    request = AbrDecideRequest.model_validate(state((), ladder=big_ladder(rungs)))
    decide(policy, request)  # warm the per-ladder caches, as a served title's second request finds them
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        decision = decide(policy, request, max_horizon=None)
        timings.append(time.perf_counter() - started)
    assert 0 <= decision.rung < rungs
    assert min(timings) < 0.005  # a few ms even on a shared 2-core box (10 ms at 16 rungs before the bound)
