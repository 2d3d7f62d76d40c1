"""``X-Part-Written-At``: the live origin states when a part (or segment) appeared, both edges pass it
through, and the load generator times deliveries from it without reading the origin's files."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from streamlab.streaming.delivery.engines.cluster import Cluster, running_cluster
from streamlab.streaming.live.origin import PART_WRITTEN_AT_HEADER
from streamlab.streaming.loadgen.viewer import Viewer, ViewerPlan
from tests.live.test_origin_blocking import SyntheticChannel, origin  # noqa: F401 - the fixture

ENGINES = ["python", "varnish"]


@pytest.fixture(params=ENGINES)
def edge(request: pytest.FixtureRequest, origin, tmp_path: Path) -> Iterator[tuple[str, str, SyntheticChannel, asyncio.AbstractEventLoop]]:  # noqa: ANN001, F811
    """The live part paths at the origin itself and through a cluster of the engine."""
    url, channel, loop = origin
    live_origin = url.split("/live/")[0]
    state_dir = tmp_path / "live-state"
    (state_dir / "synthetic").mkdir(parents=True)
    (state_dir / "synthetic" / "state.json").write_text(json.dumps({"state": "live", "origin_url": live_origin}))
    cluster: Cluster
    with running_cluster(request.param, media_root=tmp_path / "media", overrides=[f"origin.live.state_dir={state_dir}"]) as cluster:
        yield live_origin, cluster.edge_urls[0], channel, loop


def test_a_held_part_carries_its_availability_time_at_the_origin_and_through_the_edge(edge) -> None:  # noqa: ANN001
    live_origin, edge_url, channel, loop = edge
    for base in (live_origin, edge_url):
        with httpx.Client(trust_env=False, timeout=10) as client:
            hinted = client.get(f"{base}/live/synthetic/360p/playlist.m3u8").text.split('PRELOAD-HINT:TYPE=PART,URI="')[1].split('"')[0]
            asked = time.time()
            loop.call_soon_threadsafe(loop.call_later, 0.3, channel.add_part)  # written while the request waits
            response = client.get(f"{base}/live/synthetic/360p/{hinted}")
            answered = time.time()
        assert response.status_code == 200
        written = float(response.headers[PART_WRITTEN_AT_HEADER])
        assert asked + 0.2 <= written <= answered, (base, asked, written, answered)
        assert written == pytest.approx((channel.timelines["360p"].folder / hinted).stat().st_mtime, abs=1e-5)


def test_a_whole_segment_carries_it_and_a_playlist_does_not(edge) -> None:  # noqa: ANN001
    live_origin, edge_url, channel, loop = edge
    for _ in range(4):  # seg0 is 6 parts: complete now
        loop.call_soon_threadsafe(channel.add_part)
    time.sleep(0.2)
    with httpx.Client(trust_env=False, timeout=10) as client:
        for base in (live_origin, edge_url):
            segment = client.get(f"{base}/live/synthetic/360p/seg0.m4s")
            assert segment.status_code == 200 and float(segment.headers[PART_WRITTEN_AT_HEADER]) <= time.time()
            playlist = client.get(f"{base}/live/synthetic/360p/playlist.m3u8")
            assert PART_WRITTEN_AT_HEADER.lower() not in playlist.headers


def test_the_viewer_times_a_delivery_from_the_header_without_the_origins_files() -> None:
    plan = ViewerPlan(0, 0.0, 10.0, (0.0, 1.0), (10.0, 10.0), 0.0)
    viewer = Viewer(plan, "http://127.0.0.1:9/live/x/master.m3u8", None, 0.0, 0.0, 1.0)
    waited_since = time.time() - 0.5
    viewer.written_at = waited_since + 0.2
    viewer.last_byte_wall = waited_since + 0.3
    viewer._record_delivery("360p", "seg1.0.m4s", waited_since)
    assert viewer.result.delivery_ms == [pytest.approx(100.0)]
    viewer.written_at = waited_since - 1.0  # written before this viewer waited: back-fill, not timed
    viewer._record_delivery("360p", "seg1.1.m4s", waited_since)
    assert len(viewer.result.delivery_ms) == 1
