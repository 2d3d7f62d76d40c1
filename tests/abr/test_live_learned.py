"""The learned live policy: its decision (what ``/abr/decide`` answers for ``mode: live``), the server
adapter's live path and fallback, and ``streamlab abr evaluate --mode live``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bentoml.exceptions import InvalidArgument

from streamlab.models.abr.decide import AbrDecideRequest
from streamlab.models.abr.live.decide import decide_live, decide_live_fallback
from streamlab.models.abr.live.learned import load_live_learned
from streamlab.models.abr.live.session import play_live
from streamlab.models.abr.live.settings import LiveSettings
from streamlab.models.abr.live.simulator import LiveTitle
from streamlab.models.abr.traces import Trace
from streamlab.serving.abr import answer, answer_live
from streamlab.serving.settings import AbrServingSettings

RATES = (300, 750, 1200, 1850, 2850, 4300)


@pytest.fixture(scope="module")
def policy():
    return load_live_learned()


def live_request(mbps: float, buffer_s: float = 1.5, latency_s: float = 2.0, rates=RATES, **changes) -> AbrDecideRequest:
    segment_bytes = int(mbps * 1e6 / 8 * 2.0 * 0.5)  # half-rate segments that took half the time
    fields = {
        "mode": "live", "buffer_s": buffer_s, "latency_s": latency_s, "last_rung": 1, "chunks_remaining": 30,
        "segment_duration_s": 2.0, "part_duration_s": 1 / 3, "target_latency_s": 2.0,
        "samples": [{"bytes": segment_bytes, "download_ms": 1000.0}] * 6,
        "ladder": [{"bitrate_kbps": r} for r in rates],
    }
    return AbrDecideRequest.model_validate({**fields, **changes})


def test_the_rung_follows_the_link_and_the_rate_stays_in_bounds(policy) -> None:
    fast = decide_live(policy, live_request(20.0))
    slow = decide_live(policy, live_request(0.4))
    assert fast.rung >= 4 and slow.rung == 0
    for decision in (fast, slow):
        assert decision.source == "model" and 0.95 <= decision.playback_rate <= 1.05


def test_latency_over_target_speeds_up_and_a_thin_buffer_slows_down(policy) -> None:
    assert decide_live(policy, live_request(5.0, buffer_s=2.0, latency_s=3.5)).playback_rate > 1.0
    assert decide_live(policy, live_request(5.0, buffer_s=0.2, latency_s=3.5)).playback_rate < 1.0


def test_the_decision_is_stateless(policy) -> None:
    request = live_request(3.0)
    assert decide_live(policy, request) == decide_live(policy, request)


def test_a_long_ladder_plans_fewer_segments_ahead(policy) -> None:
    rates = tuple(100 + 150 * i for i in range(64))
    decision = decide_live(policy, live_request(3.0, rates=rates))
    plan = decision.reason.split("plan ")[1].split("]")[0]
    assert 0 <= decision.rung < 64 and plan.count(",") <= 1  # 64 ** 2 plans at most


def test_on_a_steady_link_it_holds_the_target_latency_above_the_lowest_rung(policy, video) -> None:
    settings = LiveSettings(session_segments=30)
    times = np.arange(0.0, 400.0)
    log = play_live(policy, Trace("steady", times, np.full(len(times), 3.0)), LiveTitle(video, settings))
    score = log.score
    assert score.stall_s == 0.0
    assert abs(score.latency_s - settings.target_latency_s) < 0.5
    assert score.bitrate_kbps > 1000


def test_the_server_answers_live_with_a_rate_and_falls_back_without_the_model(policy) -> None:
    request = live_request(3.0)
    decision, fallback = answer(request, None, AbrServingSettings())
    assert fallback is None and decision.source == "model" and decision.playback_rate is not None
    assert decision == decide_live(policy, request)
    plain, reason = answer_live(request, None)
    assert reason == "no_model" and plain == decide_live_fallback(request) and plain.source == "fallback"
    assert plain.playback_rate is not None


def test_a_failing_live_model_falls_back_with_the_error(policy) -> None:
    broken = load_live_learned()
    broken.forecaster.net = None  # type: ignore[assignment]  # a broken checkpoint object
    decision, reason = answer_live(live_request(3.0), broken)
    assert reason == "model_error" and "model failed" in decision.reason and decision.source == "fallback"


def test_live_requests_obey_the_ladder_cap() -> None:
    settings = AbrServingSettings()
    rates = tuple(100 + 50 * i for i in range(settings.max_ladder_rungs + 1))
    with pytest.raises(InvalidArgument, match="max_ladder_rungs"):
        answer(live_request(3.0, rates=rates), None, settings)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streamlab.cli", "abr", *args], capture_output=True, text=True)


def test_evaluate_live_reports_every_policy_with_paired_intervals(tmp_path, few_traces, abr_dir) -> None:
    folder = tmp_path / "traces"
    folder.mkdir()
    for trace in few_traces[:3]:
        shutil.copy(abr_dir / "train_traces" / trace.name, folder / trace.name)
    out = tmp_path / "out"
    done = _cli("evaluate", "--mode", "live", "--policy", "all", "--traces", str(folder), "--out", str(out))
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "live_summary.json").read_text())["policies"]
    assert set(summary) == {"hlsjs", "l2a", "lolp", "learned"}
    assert set(summary["learned"]["paired_vs"]) == {"hlsjs", "l2a", "lolp"}
    for entry in summary.values():
        assert entry["traces"] == 3 and np.isfinite(entry["mean_latency_s"])
    assert "learned - lolp" in done.stdout and "95% CI" in done.stdout
    lines = (out / f"live_log_learned_{few_traces[0].name}").read_text().splitlines()
    assert len(lines) == 60 and all(len(line.split()) == 7 for line in lines)


def test_an_unknown_live_policy_lists_the_known_ones(tmp_path, abr_dir) -> None:
    done = _cli("evaluate", "--mode", "live", "--policy", "pensieve", "--traces", str(abr_dir / "train_traces"),
                "--out", str(tmp_path / "o"))
    assert done.returncode == 2
    assert "unknown live policy 'pensieve'" in done.stderr and "hlsjs, l2a, lolp, learned" in done.stderr
    assert "Traceback" not in done.stderr
