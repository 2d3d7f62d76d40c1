"""The 1-5 session score orders sessions the way viewers would, and the chunk QoE matches the ABR one."""

from __future__ import annotations

import pytest

from models.abr.qoe import chunk_qoe
from models.qoe.scores import session_chunk_qoe, session_score

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
