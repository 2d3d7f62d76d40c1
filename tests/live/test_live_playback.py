"""The live channel in headless chromium: hls.js in low-latency mode, glass-to-glass latency each second.

Latency is read from the page (now minus the program date-time of the frame on screen, i.e. the
contribution encoder's capture clock), so it covers encode, SRT contribution, transcode, packaging,
delivery and the player's hold-back. The page and the stream are both served by the delivery
stack's edge (edge → shield → origin → the channel's live origin), as viewers get them.
``STREAMLAB_LIVE_PLAY_S`` lengthens the run for a measurement (default 40 s, to keep CI bounded).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live.conftest import RunningChannel, stop_and_check, test_overrides

pytestmark = pytest.mark.slow

PLAY_S = float(os.environ.get("STREAMLAB_LIVE_PLAY_S", "40"))


@pytest.fixture(scope="module")
def quiet_channel(live_env: Path, raw_dir: Path) -> Iterator[RunningChannel]:
    """No backup encoder: the box's two shared cores go to the primary feed, ladder and browser."""
    from streamlab.streaming.live.lifecycle import start_channel

    overrides = test_overrides(backup=False)
    state = start_channel("play", source=str(raw_dir / "videos" / "bigbuckbunny.mp4"), overrides=overrides)
    try:
        yield RunningChannel("play", state, overrides)
    finally:
        stop_and_check("play")


def test_hlsjs_low_latency_plays_the_channel_and_reports_latency(quiet_channel: RunningChannel, live_env: Path) -> None:
    from streamlab.streaming.delivery.stack import running_stack
    from streamlab.streaming.live.watch import watch_live
    from streamlab.streaming.player.browser import chromium

    import streamlab.streaming.player as player

    page_dir = Path(player.__file__).parent / "static"  # STREAMLAB_HOME is a temporary folder here
    with running_stack(media_root=live_env / "media", overrides=[f"origin.player_dir={page_dir}"]) as stack, chromium() as context:
        master = f"{stack.edge_url}/live/{quiet_channel.name}/master.m3u8"
        watched = watch_live(context, f"{stack.edge_url}/player/live.html", master, PLAY_S)
        assert stack.edge.stats.requests > PLAY_S, "the stream did not come through the edge"
    state = watched.state
    assert len(state["latencies"]) >= PLAY_S * 0.9, state
    assert state["frames"] > 20 * PLAY_S * 0.5, f"only {state['frames']} frames decoded"
    assert state["audioBytes"] > 0, "the audio rendition was not played"
    summary = watched.summary()
    print(f"\nlive latency through the edge: {summary}; audio decoded {state['audioBytes']} bytes; non-fatal errors {state['errors'][:5]}")
    assert summary["min_s"] > 0, "a frame on screen before it was captured: the PDT is not the capture clock"
    assert summary["median_s"] <= 4.0, f"median glass-to-glass latency {summary['median_s']:.2f} s"
    assert state["stallSeconds"] <= 2.0


def test_shaka_low_latency_dash_plays_the_channel_through_the_edge(quiet_channel: RunningChannel, live_env: Path) -> None:
    """The same channel as LL-DASH (the MPD and chunked segments from the same parts), in Shaka
    Player's low-latency mode through the edge; the figure is printed for the report."""
    from streamlab.streaming.delivery.stack import running_stack
    from streamlab.streaming.live.watch import watch_live
    from streamlab.streaming.player.browser import chromium

    import streamlab.streaming.player as player

    page_dir = Path(player.__file__).parent / "static"
    with running_stack(media_root=live_env / "media", overrides=[f"origin.player_dir={page_dir}"]) as stack, chromium() as context:
        mpd = f"{stack.edge_url}/live/{quiet_channel.name}/manifest.mpd"
        watched = watch_live(context, f"{stack.edge_url}/player/live.html", mpd, PLAY_S)
    state = watched.state
    assert state["engine"] == "shaka" and len(state["latencies"]) >= PLAY_S * 0.9, state
    assert state["frames"] > 20 * PLAY_S * 0.5, f"only {state['frames']} frames decoded"
    assert state["audioBytes"] > 0, "the DASH audio adaptation set was not played"
    summary = watched.summary()
    print(f"\nLL-DASH latency through the edge (Shaka): {summary}; audio decoded {state['audioBytes']} bytes; non-fatal errors {state['errors'][:5]}")
    assert summary["min_s"] > 0, "a frame on screen before it was captured: availabilityStartTime is not the capture clock"
    assert summary["median_s"] <= 6.0, f"median glass-to-glass latency {summary['median_s']:.2f} s"
    assert state["stallSeconds"] <= 3.0


def test_the_page_goes_back_into_the_dvr_window_and_keeps_playing(quiet_channel: RunningChannel, live_env: Path) -> None:
    """Time shift from the page: 15 s behind live (the channel has been running long enough by
    now), then playing on from there, with the latency showing the shift."""
    from streamlab.streaming.delivery.stack import running_stack
    from streamlab.streaming.live.watch import watch_live
    from streamlab.streaming.player.browser import chromium

    from streamlab.streaming.live.lifecycle import channel_status

    import streamlab.streaming.player as player

    deadline = time.monotonic() + 40  # run alone, the channel may be younger than the shift
    while channel_status(quiet_channel.name)["rungs"][0]["segments"] < 11 and time.monotonic() < deadline:
        time.sleep(1)
    page_dir = Path(player.__file__).parent / "static"
    with running_stack(media_root=live_env / "media", overrides=[f"origin.player_dir={page_dir}"]) as stack, chromium() as context:
        master = f"{stack.edge_url}/live/{quiet_channel.name}/master.m3u8"
        watched = watch_live(context, f"{stack.edge_url}/player/live.html", master, 20.0,
                             actions={6: "() => window.streamlabLiveSeek(15)"})
    latencies = watched.state["latencies"]
    assert watched.state.get("seeks") == 1 and len(latencies) >= 18, watched.state
    behind = latencies[-5:]
    print(f"\nafter seeking 15 s behind live: latency {behind}, stalls {watched.state['stalls']}")
    assert all(13.0 <= latency <= 17.5 for latency in behind), latencies
    assert watched.state["frames"] > 20 * 10


def test_live_watch_plays_the_channel_through_an_edge_and_reports_latency(
        quiet_channel: RunningChannel, capsys: pytest.CaptureFixture[str]) -> None:
    """``streamlab live watch`` as a user types it: no edge answers at the configured address, so it
    brings one up for the watch and reports the latency the page measured."""
    from streamlab.cli import run

    assert run(["live", "watch", quiet_channel.name, "--seconds", "8"]) == 0
    out = capsys.readouterr().out
    print(out)
    median = float(re.search(r"glass-to-glass latency: median ([\d.]+) s", out).group(1))
    assert 0 < median <= 6.0 and "stalls" in out and "frames decoded" in out, out
    assert run(["live", "watch", quiet_channel.name, "--seconds", "5", "--seek-back", "99999"]) == 1
    assert "outside the channel's DVR window" in capsys.readouterr().err
