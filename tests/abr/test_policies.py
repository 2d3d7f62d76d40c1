"""Baselines follow their published rules; the registry refuses unknown names; the oracle is a ceiling."""

from __future__ import annotations

import numpy as np
import pytest

from streamlab.models.abr.env import play, play_all
from streamlab.models.abr.errors import UnknownPolicyError
from streamlab.models.abr.policies.base import Observation
from streamlab.models.abr.policies.mpc import best_first_level
from streamlab.models.abr.qoe import summarize
from streamlab.models.abr.registry import make_policy, parse_policy_list


def _obs(video, buffer_s: float, chunk_bytes: float = 500_000.0, delay_ms: float = 1000.0) -> Observation:
    return Observation(
        chunk_index=5, last_level=2, buffer_s=buffer_s, rebuffer_s=0.0, delay_ms=delay_ms, sleep_ms=0.0,
        chunk_bytes=chunk_bytes, next_sizes_bytes=video.next_sizes_bytes(5), chunks_remaining=43,
        end_of_video=False,
    )


def test_unknown_policy_names_the_valid_ones():
    with pytest.raises(UnknownPolicyError, match=r"unknown policy 'pensieve'; valid: bba, rate, bola, robustmpc, oracle, learned"):
        make_policy("pensieve")


def test_policy_list_accepts_all_and_comma_lists():
    assert parse_policy_list("all") == ["bba", "rate", "bola", "robustmpc", "oracle", "learned"]
    assert parse_policy_list("bba, rate") == ["bba", "rate"]
    with pytest.raises(UnknownPolicyError, match="'mpc'"):
        parse_policy_list("bba,mpc")


@pytest.mark.parametrize(("buffer_s", "level"), [(4.99, 0), (5.0, 0), (7.0, 1), (9.0, 2), (14.99, 4), (15.0, 5), (40.0, 5)])
def test_bba_ramps_from_reservoir_over_the_cushion(video, buffer_s, level):
    policy = make_policy("bba")
    policy.video = video
    assert policy.select(_obs(video, buffer_s)) == level


def test_rate_picks_highest_bitrate_under_1024_times_harmonic_mean(video, few_traces):
    policy = make_policy("rate")
    policy.start_session()
    policy.start_trace(few_traces[0], video, None)
    # 1850 kbit/s measured: 1.024 x 1850 = 1894 -> 1850 is the highest not above it
    assert policy.select(_obs(video, 10.0, chunk_bytes=1850 * 1000 / 8, delay_ms=1000.0)) == 3


def test_mpc_ties_go_to_the_last_plan_in_lexicographic_order():
    # Two identical levels: every plan scores exactly the same, so the reference's `>=` keeps
    # the last plan enumerated, (1, 1), whose first level is 1.
    sizes = np.full((2, 2), 1000.0)
    rates = np.array([300.0, 300.0])  # two identical levels: every plan scores the same
    assert best_first_level(10.0, 0, sizes, rates, 1.0, 0.08) == 1


def test_oracle_beats_every_baseline_on_real_traces(video, few_traces):
    means = {}
    for name in ["bba", "rate", "bola", "robustmpc", "oracle"]:
        logs = play_all(make_policy(name), few_traces, video)
        means[name] = [log.score.qoe for log in logs]
    oracle = np.array(means.pop("oracle"))
    for name, scores in means.items():
        assert np.all(oracle >= np.array(scores) - 1e-9), name


def test_oracle_plan_score_is_what_the_simulator_gives(video, few_traces):
    from streamlab.models.abr.policies.oracle import Oracle

    policy = Oracle()
    policy.start_session()
    log = play(policy, few_traces[2], video)
    planned = summarize([log.score])["mean_qoe"]
    assert planned == pytest.approx(log.score.qoe)
    assert len(log.chunks) == 48


@pytest.mark.parametrize("rates", [(800.0,), (500.0, 500.0)])
def test_bola_on_a_one_rung_or_flat_ladder_picks_the_first_rung(rates):
    """A small source gets a single rung; BOLA's utility range is then zero and must not divide by it."""
    from types import SimpleNamespace

    policy = make_policy("bola")
    policy.video = SimpleNamespace(bitrates_kbps=rates)
    obs = Observation(chunk_index=0, last_level=0, buffer_s=12.0, rebuffer_s=0.0, delay_ms=1.0, sleep_ms=0.0,
                      chunk_bytes=0.0, next_sizes_bytes=np.full(len(rates), 400_000.0), chunks_remaining=3,
                      end_of_video=False)
    assert policy.select(obs) == 0


def _by_name(logs) -> dict[str, list[str]]:
    return {log.trace.name: log.lines() for log in logs}


def test_compat_robustmpc_carries_errors_and_the_last_prediction_across_traces(video, few_traces):
    """The reference keeps ``past_errors`` and ``past_bandwidth_ests`` as module globals: the next trace's
    first chunk is scored against the previous trace's last (undiscounted) prediction."""
    first, second = few_traces[0], few_traces[1]
    policy = make_policy("robustmpc", compat=True)
    play_all(policy, [first], video)
    carried_prediction, errors_before = policy.last_prediction, len(policy.errors)
    log = play(policy, second, video)  # play_all would start a new session; the reference process does not
    first_chunk = log.chunks[0]
    measured = first_chunk.chunk_bytes / first_chunk.download_ms / 1000.0
    assert carried_prediction is not None
    assert policy.errors[errors_before] == pytest.approx(abs(carried_prediction - measured) / measured)
    assert len(policy.errors) == errors_before + len(log.chunks)  # one error per chunk, the last one included


def test_compat_plays_traces_in_sorted_name_order_whatever_order_they_come_in(video, few_traces):
    ordered = sorted(few_traces, key=lambda t: t.name)
    forward = play_all(make_policy("robustmpc", compat=True), ordered, video)
    backward = play_all(make_policy("robustmpc", compat=True), ordered[::-1], video)
    assert [log.trace.name for log in backward] == [t.name for t in ordered[::-1]]  # logs in the caller's order
    assert _by_name(backward) == _by_name(forward)
    alone = {t.name: play_all(make_policy("robustmpc", compat=True), [t], video)[0].lines() for t in ordered}
    assert alone != _by_name(forward)  # the carried state changes decisions: order matters


def test_without_compat_every_trace_starts_from_a_clean_policy(video, few_traces):
    together = play_all(make_policy("robustmpc", compat=False), few_traces, video)
    alone = [play_all(make_policy("robustmpc", compat=False), [t], video)[0] for t in few_traces]
    assert _by_name(together) == _by_name(alone)
