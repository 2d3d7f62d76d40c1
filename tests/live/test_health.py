"""The stream health monitor on real contribution feeds: each check fires on its injected fault
(primary killed, both killed, a 5 s GOP, a source switching between a static picture and noise,
an encoder dropping every 5th frame, audio stamped 1.5 s early)
and stays quiet on a healthy channel; alerts are in the QoE alert format, in ``live status``
and on the live origin's ``/metrics``."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from streamlab.models.qoe.alerts import Alert
from tests.live.conftest import RunningChannel, stop_and_check, test_overrides

pytestmark = pytest.mark.slow

STREAMLAB = str(Path(sys.executable).with_name("streamlab"))
HEALTHY_S = 20.0
SWITCHING_SOURCE = "color=c=gray:size=320x180:rate=30,noise=alls=100:allf=t+u:enable='lt(mod(t,8),4)'"
"""Four seconds of a flat grey picture (almost no bits), four of full noise (the rate cap): a
contribution encoder whose bitrate swings like a starving or bursting one. (A 2 s swing measured a CV
of only 0.40 once the feed carried audio: buffering along the way smooths a short swing.)"""
SMALL_SOURCE = ["contribution.width=320", "contribution.height=180"]


def health(name: str) -> dict:
    from streamlab.streaming.live.lifecycle import channel_status

    return channel_status(name)["health"]


def checks_raised(name: str) -> set[str]:
    return {alert["dimension"] for alert in health(name)["raised"]}


def wait_for_alert(name: str, check: str, timeout_s: float) -> tuple[dict, float]:
    started = time.monotonic()
    deadline = started + timeout_s
    while time.monotonic() < deadline:
        for alert in health(name)["raised"]:
            if alert["dimension"] == check:
                return alert, time.monotonic() - started
        time.sleep(0.25)
    raise AssertionError(f"no {check} alert within {timeout_s} s: {health(name)}")


def metrics(channel: RunningChannel) -> str:
    return httpx.get(f"{channel.state['origin_url']}/metrics", timeout=5).text


@pytest.fixture(scope="module")
def monitored(live_env: Path, raw_dir: Path) -> Iterator[RunningChannel]:
    from streamlab.streaming.live.lifecycle import start_channel

    overrides = test_overrides(backup=True)
    state = start_channel("watched", source=str(raw_dir / "videos" / "bigbuckbunny.mp4"), overrides=overrides)
    try:
        yield RunningChannel("watched", state, overrides)
    finally:
        stop_and_check("watched")


def test_a_healthy_channel_raises_no_alert(monitored: RunningChannel) -> None:
    time.sleep(HEALTHY_S)
    report = health("watched")
    print(f"\nhealthy measures after {HEALTHY_S:.0f} s: {report['measures']}")
    assert report["raised"] == [] and report["open"] == [], report
    assert report["measures"]["bitrate_cv"] is not None and report["measures"]["keyframe_interval_s"] < 2.0
    assert report["measures"]["dropped_ratio"] == 0.0 and abs(report["measures"]["av_drift_s"]) < 0.2  # measured, and quiet
    text = metrics(monitored)
    assert 'streamlab_live_health_alerts_total{channel="watched",check="input_lost"} 0' in text
    assert 'streamlab_live_health_measure{channel="watched",measure="bitrate_cv"}' in text


def test_killing_the_primary_raises_input_failover(monitored: RunningChannel) -> None:
    from streamlab.streaming.live.state import ChannelPaths

    primary = ChannelPaths.for_channel("watched").process("contribution-primary")
    assert primary is not None
    primary.kill()
    alert, after_s = wait_for_alert("watched", "input_failover", 8.0)
    Alert.model_validate(alert)  # the QoE alert format, field for field
    assert alert["value"] == "watched/primary" and alert["severity"] == "major" and alert["detector"] == "live_health"
    assert abs(alert["detected_at"] - time.time()) < 15  # Unix time, not window numbers
    assert 'check="input_failover"' in metrics(monitored)
    print(f"\ninput_failover raised {after_s:.1f} s after the primary was killed")


def test_killing_both_raises_input_lost_while_on_slate(monitored: RunningChannel) -> None:
    from streamlab.streaming.live.state import ChannelPaths

    backup = ChannelPaths.for_channel("watched").process("contribution-backup")
    assert backup is not None
    backup.kill()
    alert, after_s = wait_for_alert("watched", "input_lost", 8.0)
    assert alert["severity"] == "critical" and alert["value"] == "watched/all"
    time.sleep(2.0)
    assert any(a["dimension"] == "input_lost" for a in health("watched")["open"])  # open for as long as the slate is on
    assert 'streamlab_live_health_alert{channel="watched",check="input_lost",value="watched/all",severity="critical"' in metrics(monitored)
    status = subprocess.run([STREAMLAB, "live", "status", "watched"], capture_output=True, text=True, timeout=30)
    assert "alert input_lost watched/all critical" in status.stdout, status.stdout
    assert "bitrate_variance" not in checks_raised("watched") and "keyframe_interval" not in checks_raised("watched")
    print(f"\ninput_lost raised {after_s:.1f} s after both feeds were killed")


def _single_feed_channel(name: str, source: str, extra: list[str]) -> RunningChannel:
    from streamlab.streaming.live.lifecycle import start_channel

    overrides = test_overrides(backup=False) + SMALL_SOURCE + extra
    return RunningChannel(name, start_channel(name, source=source, overrides=overrides), overrides)


def test_a_long_contribution_gop_raises_keyframe_interval(live_env: Path) -> None:
    channel = _single_feed_channel("longgop", "testsrc2=size=320x180:rate=30", ["contribution.gop_s=5"])
    try:
        alert, _ = wait_for_alert("longgop", "keyframe_interval", 20.0)
        assert alert["value"] == "longgop/primary" and alert["evidence"]["interval_s"] > 3.0
        assert checks_raised("longgop") == {"keyframe_interval"}
        assert 'check="keyframe_interval"' in metrics(channel)
    finally:
        stop_and_check("longgop")


def test_a_swinging_bitrate_raises_bitrate_variance(live_env: Path) -> None:
    channel = _single_feed_channel("swing", SWITCHING_SOURCE, [])
    try:
        alert, _ = wait_for_alert("swing", "bitrate_variance", 35.0)
        assert alert["value"] == "swing/primary" and alert["evidence"]["cv"] > 0.5
        assert checks_raised("swing") == {"bitrate_variance"}
        assert 'check="bitrate_variance"' in metrics(channel)
    finally:
        stop_and_check("swing")


FAST_WINDOW = ["health.bitrate_window_s=4"]
"""Timing checks judge a full window: 4 s instead of 10 keeps the fault tests short."""


def test_an_encoder_dropping_frames_raises_dropped_frames(live_env: Path) -> None:
    channel = _single_feed_channel("drops", "testsrc2=size=320x180:rate=30", ["contribution.drop_every=5", *FAST_WINDOW])
    try:
        alert, _ = wait_for_alert("drops", "dropped_frames", 20.0)
        assert alert["value"] == "drops/primary" and 0.15 < alert["evidence"]["dropped_ratio"] < 0.25  # 1 in 5
        assert checks_raised("drops") == {"dropped_frames"}
        assert 'check="dropped_frames"' in metrics(channel)
    finally:
        stop_and_check("drops")


def test_audio_stamped_early_raises_av_drift(live_env: Path) -> None:
    channel = _single_feed_channel("drift", "testsrc2=size=320x180:rate=30", ["contribution.audio_offset_s=-1.5", *FAST_WINDOW])
    try:
        alert, _ = wait_for_alert("drift", "av_drift", 20.0)
        assert alert["value"] == "drift/primary" and alert["evidence"]["av_drift_s"] < -1.0
        assert checks_raised("drift") == {"av_drift"}
        assert 'streamlab_live_health_measure{channel="drift",measure="av_drift_s"} -1.' in metrics(channel)
    finally:
        stop_and_check("drift")
