"""The 1-5 session score orders sessions the way viewers would, and the chunk QoE matches the ABR one."""

from __future__ import annotations

import pytest

from streamlab.models.abr.qoe import chunk_qoe
from streamlab.models.qoe.scores import session_chunk_qoe, session_score

CLEAN = dict(avg_bitrate_kbps=4300, play_s=190, rebuffer_s=0, rebuffer_count=0, startup_s=1.0,
             bitrate_switches=0, playback_failed=False)


def test_clean_top_bitrate_session_scores_five():
    assert session_score(**CLEAN) == pytest.approx(5.0)


def test_failed_session_scores_one():
    assert session_score(**{**CLEAN, "playback_failed": True, "startup_s": None}) == 1.0


@pytest.mark.parametrize("change", [
    {"avg_bitrate_kbps": 750}, {"rebuffer_s": 10, "rebuffer_count": 2}, {"startup_s": 9.0},
    {"bitrate_switches": 20},
])
def test_each_impairment_lowers_the_score(change):
    assert 1.0 < session_score(**{**CLEAN, **change}) < session_score(**CLEAN)


def test_heavy_stalling_is_a_bad_session_under_the_design_rule():
    assert session_score(**{**CLEAN, "rebuffer_s": 25, "rebuffer_count": 4}) < 3.0


def test_startup_within_grace_costs_nothing():
    assert session_score(**{**CLEAN, "startup_s": 2.0}) == session_score(**CLEAN)


def test_session_chunk_qoe_is_the_abr_chunk_qoe_mean_after_the_first_chunk():
    bitrates, stalls = [750, 1200, 1200, 300], [0.5, 0.0, 1.0, 0.0]
    expected = (chunk_qoe(1200, 750, 0.0) + chunk_qoe(1200, 1200, 1.0) + chunk_qoe(300, 1200, 0.0)) / 3
    assert session_chunk_qoe(bitrates, stalls) == pytest.approx(expected)
    assert session_chunk_qoe([750], [0.0]) is None


def _simulated_scores(sim):
    from streamlab.models.qoe.scores import session_scores

    se = sim.summaries
    return se, session_scores(se.avg_bitrate_kbps, se.play_s, se.rebuffer_s, se.rebuffer_count, se.startup_s,
                              se.bitrate_switches, se.playback_failed)


def test_most_normal_simulated_sessions_score_at_least_three_and_a_half(three_hours):
    se, scores = _simulated_scores(three_hours)
    quiet = se["timestamp"].to_numpy() < min(i.start_s for i in three_hours.incidents) - 300
    assert quiet.sum() > 500
    assert (scores[quiet] >= 3.5).mean() >= 0.6
    assert (scores[quiet] < 3.0).mean() <= 0.3


def test_sessions_started_inside_a_region_collapse_mostly_score_below_three(three_hours):
    se, scores = _simulated_scores(three_hours)
    inc = next(i for i in three_hours.incidents if i.kind == "region_collapse")
    inside = ((se["region"] == inc.value) & (se["started_at"] >= inc.start_s) & (se["started_at"] < inc.end_s - 200)).to_numpy()
    assert inside.sum() > 30
    assert (scores[inside] < 3.0).mean() >= 0.6
