"""hls.js in chromium follows the content steering: segments from the steered pathway, and off a broken one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from streamlab.streaming.delivery.sample_title import build_sample_title
from streamlab.streaming.edge.settings import load_edge_settings
from streamlab.streaming.edge.topology import RunningEdges, running_edges
from streamlab.streaming.player.browser import check_playback, chromium

DRILL = ["steering.ttl_s=1", "steering.probe_interval_s=0.3", "steering.window_s=2", "steering.min_samples=3",
         "steering.demote_after_s=0.5", "steering.promote_after_s=30"]


@pytest.fixture(scope="module")
def browser_edges(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEdges]:
    media = tmp_path_factory.mktemp("steer-browser")
    build_sample_title(media, "sample", duration_s=8.0)
    with running_edges(media, ["cdn-a", "cdn-b"], edge=load_edge_settings(DRILL), steering=True, experiments=[]) as running:
        yield running


@pytest.mark.slow
def test_hlsjs_fetches_from_the_steered_pathway_and_leaves_a_broken_one_without_a_player_error(
        browser_edges: RunningEdges) -> None:
    a, b = browser_edges.edges["cdn-a"], browser_edges.edges["cdn-b"]
    with chromium() as context:
        healthy = check_playback(b.url + "/", "sample", "hls", min_advance_s=2.0, timeout_s=45, context=context)
        assert healthy.ok and a.url in healthy.origins  # the page came from cdn-b; the steered media from cdn-a
        assert browser_edges.steering is not None and browser_edges.steering.manifests_served["hls"] >= 1  # hls.js asked

        a.faults.error_rate = 1.0  # cdn-a answers every media request with a 503
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            state = httpx.get(browser_edges.steering_url + "/v1/state", trust_env=False).json()
            if state["other"]["order"][0] == "cdn-b":
                break
            time.sleep(0.2)
        assert state["other"]["order"][0] == "cdn-b", state["other"]
        served_before = b.tier.stats.requests
        broken = check_playback(b.url + "/", "sample", "hls", min_advance_s=2.0, timeout_s=45, context=context)
        assert broken.ok and broken.fatal_error is None
        assert b.tier.stats.requests - served_before >= 3  # the media now came from cdn-b
    a.faults.clear()
