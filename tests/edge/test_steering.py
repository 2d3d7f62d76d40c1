"""Content steering: steered manifests (HLS and DASH), the server's policy, and a degraded pathway drill
with steering-following headless viewers in two regions over two real edges."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from streamlab.streaming.edge.settings import load_edge_settings
from streamlab.streaming.edge.topology import RunningEdges, running_edges
from streamlab.streaming.steering.client import SteeredViewer, share
from streamlab.streaming.steering.policy import QoeBeacon, SteeringPolicy

DRILL = ["steering.ttl_s=1", "steering.probe_interval_s=0.5", "steering.window_s=3", "steering.min_samples=3",
         "steering.demote_after_s=1", "steering.promote_after_s=6", "steering.max_error_ratio=0.2"]


@pytest.fixture(scope="module")
def steered(ladder_media: Path) -> Iterator[RunningEdges]:
    with running_edges(ladder_media, ["cdn-a", "cdn-b"], edge=load_edge_settings(DRILL), steering=True, experiments=[]) as running:
        yield running


def test_the_master_and_mpd_name_both_pathways_and_the_regions_steering_server(steered: RunningEdges) -> None:
    a, b = steered.edges["cdn-a"].url, steered.edges["cdn-b"].url
    master = httpx.get(b + "/media/ladder/master.m3u8", headers={"X-Country": "DE"}, trust_env=False).text
    assert f'#EXT-X-CONTENT-STEERING:SERVER-URI="{steered.steering_url}/v1/steer/hls?region=eu",PATHWAY-ID="cdn-a"' in master
    assert master.count('PATHWAY-ID="cdn-a"') == 3 + 1 and master.count('PATHWAY-ID="cdn-b"') == 3  # capped (unknown: 1080p)
    assert f"{a}/media/ladder/360p_h264/playlist.m3u8" in master and f"{b}/media/ladder/360p_h264/playlist.m3u8" in master
    assert 'GROUP-ID="aud-cdn-b"' in master and 'AUDIO="aud-cdn-b",PATHWAY-ID="cdn-b"' in master
    mpd = httpx.get(a + "/media/ladder/manifest.mpd", headers={"X-Country": "US"}, trust_env=False).text
    assert f'<BaseURL serviceLocation="cdn-b">{b}/media/ladder/</BaseURL>' in mpd
    assert f'defaultServiceLocation="cdn-a" queryBeforeStart="true">{steered.steering_url}/v1/steer/dash?region=na<' in mpd
    steer = httpx.get(steered.steering_url + "/v1/steer/dash", params={"region": "na"}, trust_env=False).json()
    assert steer["VERSION"] == 1 and steer["TTL"] == 1 and set(steer["SERVICE-LOCATION-PRIORITY"]) == {"cdn-a", "cdn-b"}


def test_bad_beacons_and_regions_get_one_clear_400(steered: RunningEdges) -> None:
    url = steered.steering_url
    assert httpx.get(url + "/v1/steer/hls", params={"region": "mars"}, trust_env=False).status_code == 400
    for beacon in ({"region": "eu", "pathway": "cdn-z"}, {"region": "mars", "pathway": "cdn-a"},
                   {"region": "eu", "pathway": "cdn-a", "requests": 1, "errors": 5}, {"region": "eu"}):
        response = httpx.post(url + "/v1/qoe", json=beacon, trust_env=False)
        assert response.status_code == 400 and response.json()["error"], beacon


def test_hysteresis_demotes_after_a_sustained_fault_and_promotes_only_after_sustained_health() -> None:
    now = [0.0]
    settings = load_edge_settings(["steering.pathways=[{id: a, url: 'http://a'}, {id: b, url: 'http://b'}]",
                                   "steering.window_s=5", "steering.demote_after_s=2", "steering.promote_after_s=10"]).steering
    policy = SteeringPolicy(settings, clock=lambda: now[0])

    def tick(errors: int, seconds: int) -> list[list[str]]:
        orders = []
        for _ in range(seconds):
            now[0] += 1
            for pathway, failed in (("a", errors), ("b", 0)):
                policy.record(QoeBeacon(region="eu", pathway=pathway, requests=2, errors=failed))
            orders.append(policy.order("eu"))
        return orders

    assert tick(0, 5)[-1] == ["a", "b"]
    bad = tick(2, 6)
    assert bad[0] == ["a", "b"] and bad[-1] == ["b", "a"]  # one bad second does not flap; a sustained fault does
    good = tick(0, 20)
    back = next(i for i, order in enumerate(good) if order == ["a", "b"])
    assert back >= 10  # healthy for promote_after_s (after the window forgets the faults) before it comes back
    assert policy.order("na") == ["a", "b"]  # other regions never saw the fault


async def _watch(steered: RunningEdges, region_countries: dict[str, str], viewers_per_region: int, seconds: float,
                 viewers: list[SteeredViewer] | None = None) -> list[SteeredViewer]:
    async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
        if viewers is None:
            viewers = []
            for region, country in region_countries.items():
                for i in range(viewers_per_region):
                    entry = steered.edges["cdn-a" if i % 2 else "cdn-b"].url  # masters through either edge
                    viewer = SteeredViewer(client, entry + "/media/ladder/master.m3u8", region, {"X-Country": country})
                    await viewer.start()
                    viewers.append(viewer)
        else:
            for viewer in viewers:
                viewer.client = client
        until = time.monotonic() + seconds
        await asyncio.gather(*(v.play(until) for v in viewers))
    return viewers


@pytest.mark.slow
def test_a_degraded_pathway_loses_its_regions_new_requests_within_60_s_and_wins_them_back_after_hysteresis(
        steered: RunningEdges) -> None:
    regions = {"eu": "DE", "na": "US"}
    viewers = asyncio.run(_watch(steered, regions, 4, 3.0))
    logs = lambda region: [v.log for v in viewers if v.region == region]  # noqa: E731
    settled = time.monotonic()
    assert share(logs("eu"), "cdn-a", settled - 2, settled)[0] >= 0.9

    faults = steered.edges["cdn-a"].faults
    faults.error_rate, faults.regions = 0.5, {"eu"}  # half of cdn-a's answers in eu are 503s
    degraded_at = time.monotonic()
    moved_at = None
    while moved_at is None and time.monotonic() - degraded_at < 60:
        asyncio.run(_watch(steered, regions, 4, 2.0, viewers))
        now = time.monotonic()
        eu_on_a, n = share(logs("eu"), "cdn-a", now - 2, now)
        if n and eu_on_a <= 0.1:
            moved_at = now
    assert moved_at is not None, f"eu still sends {eu_on_a:.0%} of new requests to the degraded pathway after 60 s"
    assert share(logs("na"), "cdn-a", degraded_at, moved_at)[0] >= 0.9  # the fault was eu's only: na stays
    assert all(v.log.failed_segments == 0 for v in viewers)  # every segment was delivered (fallback, no player error)

    faults.clear()
    restored_at = time.monotonic()
    back_at = None
    while back_at is None and time.monotonic() - restored_at < 60:
        asyncio.run(_watch(steered, regions, 4, 2.0, viewers))
        now = time.monotonic()
        if share(logs("eu"), "cdn-a", now - 2, now)[0] >= 0.9:
            back_at = now
    assert back_at is not None, "eu never moved back to the restored pathway"
    assert back_at - restored_at >= 6  # not before promote_after_s of health
    print(f"moved off in {moved_at - degraded_at:.1f} s, back after {back_at - restored_at:.1f} s")
