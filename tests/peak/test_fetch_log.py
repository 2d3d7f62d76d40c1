"""Origin requests per part and per playlist version, counted per object at each shield (not as a
ratio): the maximum and the share above one, and every extra fetch put down to its cause, so a
fault window's refetches are told apart from a coalescing gap."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx

from streamlab.pipelines.peak.run import per_object_summary
from streamlab.streaming.delivery.engines.cluster import running_cluster
from streamlab.streaming.delivery.fetch_log import FetchLog, merge_snapshots, object_of
from tests.live.test_origin_blocking import origin  # noqa: F401 - the fixture

PLAYLIST = "/live/synthetic/360p/playlist.m3u8"
VIEWERS = 20


def test_objects_are_parts_and_playlist_versions_and_nothing_else() -> None:
    assert object_of("/live/c/360p/seg4.2.m4s") == ("media", ("/live/c/360p/seg4.2.m4s",))
    assert object_of("/live/c/360p/seg4.2.m4s?x=1") == object_of("/live/c/360p/seg4.2.m4s")
    assert object_of(f"{PLAYLIST}?_HLS_msn=4&_HLS_part=2&_HLS_skip=YES") == (
        "playlist_version", (f"{PLAYLIST}?_HLS_skip=YES", (4, 2)))
    assert object_of(f"{PLAYLIST}?_HLS_msn=4&_HLS_part=2") != object_of(f"{PLAYLIST}?_HLS_msn=4&_HLS_part=2&_HLS_skip=YES")
    for other in (PLAYLIST, "/live/c/master.m3u8", f"{PLAYLIST}?_HLS_skip=YES", "/api/titles"):
        assert object_of(other) is None, other


def test_each_extra_fetch_is_put_down_to_what_became_of_the_previous_one() -> None:
    log = FetchLog()
    first = log.new_generation()
    part, version = "/live/c/360p/seg1.0.m4s", f"{PLAYLIST}?_HLS_msn=1&_HLS_part=0"
    log.finished(log.started(part, first), stored=False)  # a 503 / the origin down: not stored
    log.finished(log.started(part, first), stored=True)   # fetched again: after_error
    log.finished(log.started(version, first), stored=True, ttl_s=1.0)
    log.finished(log.started(version, first), stored=True)  # stored, then fetched again: a real gap
    running = log.started("/live/c/360p/seg1.1.m4s", first)
    log.finished(log.started("/live/c/360p/seg1.1.m4s", first), stored=True)  # while the first still ran
    log.finished(running, stored=True)
    restarted = log.new_generation()
    log.finished(log.started(part, restarted), stored=True)  # a restarted tier's empty cache
    log.finished(log.started(part, restarted, passed=True), stored=False)
    log.finished(log.started(PLAYLIST, restarted), stored=True)  # not counted
    media, versions = log.snapshot()["media"], log.snapshot()["playlist_version"]
    assert media["objects"] == 2 and media["fetches"] == 6 and media["above_one"] == 2 and media["share_above_one"] == 1.0
    assert media["refetch_causes"] == {"after_error": 1, "after_restart": 1, "after_stored": 0, "concurrent": 1, "pass": 1}
    assert media["max"] == 4 and media["max_outside_faults"] == 2  # the first fetch and the pass
    assert versions["objects"] == 1 and versions["max"] == versions["max_outside_faults"] == 2
    assert versions["refetch_causes"]["after_stored"] == 1
    gaps = log.snapshot()["gaps"]
    assert [(g["target"], g["cause"], g["fetch"]) for g in gaps] == [
        (version, "after_stored", 2), ("/live/c/360p/seg1.1.m4s", "concurrent", 2)]
    assert all(g["since_previous_s"] >= 0 for g in gaps)
    assert [g["previous_ttl_s"] for g in gaps] == [1.0, None]  # the concurrent one's first was not stored yet


def test_the_log_is_bounded_and_says_how_much_it_forgot() -> None:
    log = FetchLog(capacity=3)
    generation = log.new_generation()
    for i in range(5):
        log.finished(log.started(f"/live/c/360p/seg{i}.0.m4s", generation), stored=True)
    log.finished(log.started("/live/c/360p/seg0.0.m4s", generation), stored=True)  # forgotten: counted as new
    snapshot = log.snapshot()
    assert snapshot["forgotten"] == 3 and snapshot["media"]["objects"] == 6 and snapshot["media"]["max"] == 1


def test_shields_merge_into_one_summary_with_the_edges_failovers_apart() -> None:
    one, two = FetchLog(), FetchLog()
    g1, g2 = one.new_generation(), two.new_generation()
    for target in ("/live/a/360p/seg1.0.m4s", "/live/a/360p/seg1.0.m4s", "/live/a/360p/seg1.1.m4s"):
        one.finished(one.started(target, g1), stored=True)
    two.finished(two.started("/live/b/360p/seg1.0.m4s", g2), stored=True)
    merged = merge_snapshots([one.snapshot(), two.snapshot()])
    assert merged["media"]["objects"] == 3 and merged["media"]["max"] == 2 and merged["media"]["share_above_one"] == 0.3333
    flat = per_object_summary([one.snapshot(), two.snapshot()], [{"failovers": 4}, {"failovers": 1}])
    assert flat["origin_media_fetches_max_per_shield"] == 2 and flat["origin_media_share_above_one"] == 0.3333
    assert flat["origin_playlist_version_fetches_max_per_shield"] == 0 and flat["edge_failovers_to_origin"] == 5
    assert len(flat["origin_fetches_per_object"]["per_shield"]) == 2
    two.finished(two.started("/live/b/360p/seg1.0.m4s", g2), stored=True)  # stored, fetched again: a gap
    at = two.snapshot()["gaps"][0]["at_unix_s"]
    inside = per_object_summary([two.snapshot()], [], [(at - 1, at + 1)])
    outside = per_object_summary([two.snapshot()], [], [(at + 5, at + 10)])
    assert inside["origin_gaps_outside_faults"] == 0 and outside["origin_gaps_outside_faults"] == 1
    assert inside["origin_fetches_per_object"]["gaps"][0]["in_fault_window"]


async def _many(client: httpx.AsyncClient, url: str, n: int, **params: object) -> list[httpx.Response]:
    return await asyncio.gather(*(client.get(url, params=params) for _ in range(n)))


def test_a_crowd_at_the_live_edge_costs_the_origin_one_fetch_per_object_through_either_engine(origin, tmp_path: Path) -> None:  # noqa: ANN001, F811
    url, channel, loop = origin  # parts seg0.0-0.2 exist; the hint is seg0.3
    live_origin = url.split("/live/")[0]
    state_dir = tmp_path / "live-state"
    (state_dir / "synthetic").mkdir(parents=True)
    (state_dir / "synthetic" / "state.json").write_text(json.dumps({"state": "live", "origin_url": live_origin}))

    async def crowd(edge: str) -> tuple[list[httpx.Response], list[httpx.Response]]:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=2 * VIEWERS), timeout=15, trust_env=False) as client:
            loop.call_soon_threadsafe(loop.call_later, 0.4, channel.add_part)
            return await asyncio.gather(
                _many(client, edge + PLAYLIST, VIEWERS, _HLS_msn=0, _HLS_part=3, _HLS_skip="YES"),
                _many(client, edge + "/live/synthetic/360p/seg0.3.m4s", VIEWERS))

    for engine in ("python", "varnish"):  # one cluster after the other, on the same channel
        with running_cluster(engine, media_root=tmp_path / "media", overrides=[f"origin.live.state_dir={state_dir}"]) as cluster:
            playlists, parts = asyncio.run(crowd(cluster.edge_urls[0]))
            assert {r.status_code for r in playlists + parts} == {200}
            fetched = httpx.get(cluster.shield_urls[0] + "/_stats", trust_env=False).json()["upstream_fetches"]
            assert fetched["playlist_version"]["objects"] >= 1 and fetched["media"]["objects"] >= 1, engine
            assert fetched["playlist_version"]["max"] == fetched["media"]["max"] == 1, (engine, fetched)
            # a part the origin has not announced: a 404 the shield does not store (Varnish keeps it
            # 0.5 s), so asking the shield again goes upstream again, an error's refetch
            for _ in range(2):
                assert httpx.get(cluster.shield_urls[0] + "/live/synthetic/360p/seg9.0.m4s", trust_env=False).status_code == 404
            fetched = httpx.get(cluster.shield_urls[0] + "/_stats", trust_env=False).json()["upstream_fetches"]
            assert fetched["media"]["max"] == 2 and fetched["media"]["refetch_causes"]["after_error"] == 1, (engine, fetched)
            assert fetched["media"]["max_outside_faults"] == 1
