"""The live channel in headless chromium: hls.js in low-latency mode, glass-to-glass latency each second.

Latency is read from the page (now minus the program date-time of the frame on screen, i.e. the
contribution encoder's capture clock), so it covers encode, SRT contribution, transcode, packaging,
delivery and the player's hold-back. The page is served by the delivery stack; the stream comes
straight from the channel's live origin (blocking reloads need it: see the report on edge support).
``STREAMLAB_LIVE_PLAY_S`` lengthens the run for a measurement (default 40 s, to keep CI bounded).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

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
    from streamlab.streaming.player.browser import chromium

    import streamlab.streaming.player as player

    master = f"{quiet_channel.base_url}/master.m3u8"
    page_dir = Path(player.__file__).parent / "static"  # STREAMLAB_HOME is a temporary folder here
    with running_stack(media_root=live_env / "media", overrides=[f"origin.player_dir={page_dir}"]) as stack, chromium() as context:
        page = context.new_page()
        console_errors: list[str] = []
        page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
        page.goto(f"{stack.edge_url}/player/live.html?src={quote(master, safe='')}")
        deadline = time.monotonic() + PLAY_S + 15
        state = None
        while time.monotonic() < deadline:
            page.wait_for_timeout(1000)
            state = page.evaluate("() => window.streamlabLive ? JSON.parse(JSON.stringify(window.streamlabLive)) : null")
            assert state is not None, f"the live page did not load: {console_errors}"
            assert state["fatal"] is None, f"fatal player error {state['fatal']}: {state['errors']}"
            if len(state["latencies"]) >= PLAY_S:
                break
        page.close()
    assert state is not None and len(state["latencies"]) >= PLAY_S * 0.9, state
    assert state["frames"] > 20 * PLAY_S * 0.5, f"only {state['frames']} frames decoded"
    latencies = sorted(state["latencies"][3:])  # the first seconds are start-up, not steady state
    median = statistics.median(latencies)
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    print(
        f"\nlive latency over {len(latencies)} s: median {median:.2f} s, p95 {p95:.2f} s, min {latencies[0]:.2f}, "
        f"max {latencies[-1]:.2f}; hls.js edge latency median {statistics.median(state['edgeLatencies']):.2f} s; "
        f"stalls {state['stalls']} ({state['stallSeconds']:.2f} s); non-fatal errors {state['errors'][:5]}"
    )
    assert min(latencies) > 0, "a frame on screen before it was captured: the PDT is not the capture clock"
    assert median <= 4.0, f"median glass-to-glass latency {median:.2f} s"
    assert state["stallSeconds"] <= 2.0
