"""The served live ABR rule in the browser: hls.js low-latency mode asks ``/abr/decide`` (mode live).

One live channel through the delivery stack's edge, the model server on loopback (no registered
models: the live policy is the committed checkpoint, see ``serving/abr.py``), and the live page
played three ways in headless chromium: ``?abr=served`` against the server and hls.js's own ABR
side by side, each page on its own replay of a held-out throughput trace (chromium's DevTools
network emulation, :mod:`streamlab.streaming.player.shaping`), their glass-to-glass latency
compared (see ``SHAPED_TOLERANCE_S``); and ``?abr=served`` against a closed port (every decision
falls back to hls.js's rule, and the page keeps playing). ``STREAMLAB_SERVED_ABR_PLAY_S``
lengthens the shaped runs; ``benchmarks/bench_live.py --served-abr`` records the same comparison.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live.conftest import RunningChannel, free_port, stop_and_check, test_overrides

pytestmark = pytest.mark.slow

PLAY_S = float(os.environ.get("STREAMLAB_SERVED_ABR_PLAY_S", "30"))
FALLBACK_PLAY_S = 6.0
SHAPED_TOLERANCE_S = 0.5
SHAPED_TOLERANCE_SHARE = 0.1
"""On the shaped link the served rule's median latency may exceed hls.js's by 0.5 s + 10% of
hls.js's. Both pages play side by side (the channel's own lag, seconds under load, cancels), but
each joins where hls.js's start logic puts it, and that spreads: at load 27-50 on this box (2 cores,
8 sessions) served minus hls.js medians over four side-by-side runs were +0.96, -0.80, -0.60,
+0.89 s with hls.js at 10.4-14.9 s (the packager's lag included); on a quiet box hls.js's own runs
joined between 1.66 and 2.55 s. The share scales the allowance with the lag that load adds. What
this catches: a served rule that stalls repeatedly or falls seconds behind. What it cannot catch
under such load: a rule pinned to the top rung at rate 0.95 measured +0.71 s (allowed 1.2 s) - the
run-to-run spread is as large as that effect."""


@pytest.fixture(scope="module")
def abr_channel(live_env: Path, raw_dir: Path) -> Iterator[RunningChannel]:
    """No backup encoder: the shared cores go to the primary feed, the ladder, the browser and the server."""
    from streamlab.streaming.live.lifecycle import start_channel

    overrides = test_overrides(backup=False)
    state = start_channel("abr", source=str(raw_dir / "videos" / "bigbuckbunny.mp4"), overrides=overrides)
    try:
        yield RunningChannel("abr", state, overrides)
    finally:
        stop_and_check("abr")


@pytest.fixture(scope="module")
def live_server(live_env: Path) -> Iterator[Any]:
    """The model server with no registered model loaded: ``/abr/decide`` live needs only the committed
    live checkpoint, and registering the others costs the box tens of seconds."""
    from streamlab.serving.server import running_server

    disabled = [f"models.{name}.enabled=false" for name in ("abr", "recommend", "ladder", "qoe")]
    with running_server([f"port={free_port(socket.SOCK_STREAM)}", *disabled]) as server:
        yield server


@pytest.fixture(scope="module")
def live_page(abr_channel: RunningChannel, live_env: Path) -> Iterator[tuple[Any, str, str]]:
    """(browser context, page URL, master playlist URL), both through the edge."""
    from streamlab.streaming.delivery.stack import running_stack
    from streamlab.streaming.player.browser import chromium

    import streamlab.streaming.player as player

    page_dir = Path(player.__file__).parent / "static"
    with running_stack(media_root=live_env / "media", overrides=[f"origin.player_dir={page_dir}"]) as stack, chromium() as context:
        yield context, f"{stack.edge_url}/player/live.html", f"{stack.edge_url}/live/{abr_channel.name}/master.m3u8"


@pytest.fixture(scope="module")
def shaped_link(live_page, raw_dir: Path) -> Any:
    """The reference held-out trace window, scaled to the channel's ladder (``REFERENCE_HEADROOM``)."""
    from streamlab.streaming.player.shaping import reference_link

    return reference_link(raw_dir / "abr" / "train_traces", httpx.get(live_page[2], trust_env=False, timeout=10).text)


def test_the_shaping_trace_is_held_out(raw_dir: Path) -> None:
    """Nothing was trained or tuned on the trace the browser comparison replays."""
    from streamlab.core.config import load_config
    from streamlab.models.abr.traces import load_traces
    from streamlab.streaming.player.shaping import REFERENCE_TRACE
    from streamlab.training.abr.settings import TrainSettings
    from streamlab.training.abr.splits import split_traces

    settings = load_config("abr", TrainSettings)
    train, validation = split_traces(load_traces(raw_dir / "abr" / "train_traces"), settings.split.validation_fraction,
                                     settings.split.seed)
    assert REFERENCE_TRACE in {t.name for t in validation} and REFERENCE_TRACE not in {t.name for t in train}


def test_served_rule_decides_from_the_server_and_is_no_later_than_hlsjs_on_a_shaped_trace(
    live_page, live_server, shaped_link,
) -> None:
    from streamlab.streaming.live.watch import compare_served_abr

    context, page_url, master = live_page
    compared = compare_served_abr(context, page_url, master, PLAY_S, shaped_link, live_server.url)
    served, own, served_link, own_link = compared.served, compared.hlsjs, compared.served_link, compared.hlsjs_link
    abr = served.state["abr"]
    answered = sum(abr["answers"].values())
    served_change, own_change = latency_change(served), latency_change(own)
    print(f"\ncomparison: {compared.summary()}"
          f"\nshaped link: {shaped_link.describe()}; applied (s, kbit/s) served {served_link.applied[:6]}..., "
          f"hls.js {own_link.applied[:6]}..."
          f"\nserved rule: {served.summary()} decisions {abr['served']} served / {abr['hlsjs']} hls.js, "
          f"answers {abr['answers']} of {abr['calls']} calls ({abr['failures']} failed), last {abr['lastAnswer']}"
          f"\nhls.js ABR:  {own.summary()}"
          f"\nlatency change after the join (median - first steady sample): served {served_change:+.2f} s,"
          f" hls.js {own_change:+.2f} s; served rates {[round(a['rate'], 3) for a in abr['history']]}")
    assert abr["mode"] == "served" and abr["servingUrl"] == live_server.url
    live_policy = httpx.post(f"{live_server.url}/models/status", json={}, trust_env=False, timeout=10).json()["live_abr"]
    assert abr["served"] > 0 and answered > 0, abr
    # the live policy answers (learned live checkpoint), or the server's documented live fallback
    assert set(abr["answers"]) <= {"model", "fallback"}, abr["answers"]
    assert abr["answers"].get("model", 0) > 0 if live_policy["loaded"] else abr["answers"].get("fallback", 0) > 0
    assert abr["lastAnswer"]["playback_rate"] is not None and 0.95 <= abr["lastAnswer"]["playback_rate"] <= 1.05
    assert compared.server_decide_requests >= answered, "the answers did not come from this server"
    assert own.state["abr"]["mode"] == "hlsjs" and own.state["abr"]["calls"] == 0
    # the same catch-up bound for both: the served rule's rates stay in [0.95, 1.05], hls.js's controller gets 1.05
    assert own.state["maxLiveSyncRate"] == 1.05 and served.state["maxLiveSyncRate"] == 1, (own.state, served.state)
    for run, link in ((served, served_link), (own, own_link)):
        assert len(run.state["latencies"]) >= PLAY_S * 0.9 and run.state["fatal"] is None, run.state
        # the link followed the trace: it changed at least once per line of the window the run covered
        assert len(link.applied) >= min(len(set(shaped_link.kbps)), PLAY_S) // 2, link.applied
    own_median = own.summary()["median_s"]
    allowed = own_median + SHAPED_TOLERANCE_S + SHAPED_TOLERANCE_SHARE * own_median
    assert served.summary()["median_s"] <= allowed, compared.summary()


def latency_change(watched: Any) -> float:
    """Median steady latency minus the first steady sample: how far the run moved from where it joined."""
    from streamlab.streaming.live.watch import STARTUP_SAMPLES

    return watched.summary()["median_s"] - watched.state["latencies"][STARTUP_SAMPLES]


def test_a_server_that_does_not_answer_leaves_hlsjs_deciding(live_page) -> None:
    from streamlab.streaming.live.watch import watch_live

    context, page_url, master = live_page
    closed = f"http://127.0.0.1:{free_port(socket.SOCK_STREAM)}"
    watched = watch_live(context, page_url, master, FALLBACK_PLAY_S, query={"abr": "served", "serving": closed})
    abr = watched.state["abr"]
    assert abr["served"] == 0 and abr["hlsjs"] > 0 and abr["failures"] > 0 and not abr["answers"], abr
    assert len(watched.state["latencies"]) >= FALLBACK_PLAY_S * 0.9 and watched.state["fatal"] is None, watched.state


def test_a_bad_abr_parameter_is_one_clear_player_error(live_page) -> None:
    from urllib.parse import quote

    context, page_url, master = live_page
    page = context.new_page()
    try:
        errors = {}
        for query in ("abr=bogus", "abr=served", "abr=served&serving=ftp%3A%2F%2Fx", "maxrate=3", "maxrate=fast"):
            page.goto(f"{page_url}?src={quote(master, safe='')}&{query}")
            errors[query] = page.evaluate("() => window.streamlabLive.fatal")
    finally:
        page.close()
    assert "unknown ?abr=bogus" in errors["abr=bogus"] and "hlsjs, served" in errors["abr=bogus"], errors
    assert all("needs ?serving=" in errors[q] for q in ("abr=served", "abr=served&serving=ftp%3A%2F%2Fx")), errors
    assert all("is not a playback rate between 1 and 2" in errors[q] for q in ("maxrate=3", "maxrate=fast")), errors
