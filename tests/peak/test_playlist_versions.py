"""One origin request per LL-HLS playlist version per shield, through either edge engine: viewers
blocked on the same version share one request, and a viewer behind the live edge asking for an
old version (its cached answer expired) is answered from the newer one the tiers hold. And an
answer to a request for a version already passed is the current playlist, cached only as briefly
as a plain playlist: viewers retrying after an outage must not all get one old snapshot."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from streamlab.streaming.delivery.blocking_reload import NewestVersions, blocking_reload
from streamlab.streaming.delivery.engines.cluster import running_cluster
from streamlab.streaming.live.settings import LiveOriginSettings
from streamlab.streaming.live.timeline import RungTimeline
from tests.live.test_origin_blocking import SyntheticChannel, origin, serving_origin  # noqa: F401 - the fixture
from tests.live.test_timeline_properties import INIT

VIEWERS = 20
PLAYLIST = "/live/synthetic/360p/playlist.m3u8"


def test_a_blocking_reload_is_read_as_its_playlist_and_the_version_it_waits_for() -> None:
    reload = blocking_reload(f"{PLAYLIST}?_HLS_msn=4&_HLS_part=2&_HLS_skip=YES")
    assert reload is not None and reload.version == (4, 2)
    assert reload.family == f"{PLAYLIST}?_HLS_skip=YES"  # a delta and a full playlist are different views
    assert blocking_reload(f"{PLAYLIST}?_HLS_part=2&_HLS_msn=4").family == PLAYLIST
    for target in (PLAYLIST, f"{PLAYLIST}?_HLS_msn=4", f"{PLAYLIST}?_HLS_msn=x&_HLS_part=1",
                   f"{PLAYLIST}?_HLS_msn=4&_HLS_part=-1", "/live/synthetic/360p/seg4.1.m4s?_HLS_msn=4&_HLS_part=1",
                   f"{PLAYLIST}?_HLS_msn=4&_HLS_part=1&_HLS_msn=5"):
        assert blocking_reload(target) is None, target


def test_the_newest_stored_version_satisfies_older_requests_only() -> None:
    newest = NewestVersions(capacity=2)
    stored = f"{PLAYLIST}?_HLS_msn=4&_HLS_part=2"
    newest.stored(blocking_reload(stored), stored)
    newest.stored(blocking_reload(f"{PLAYLIST}?_HLS_msn=3&_HLS_part=6"), "older")  # never replaces a newer one
    assert newest.satisfying(blocking_reload(f"{PLAYLIST}?_HLS_msn=3&_HLS_part=6")) == stored
    assert newest.satisfying(blocking_reload(f"{PLAYLIST}?_HLS_msn=4&_HLS_part=2")) == stored
    assert newest.satisfying(blocking_reload(f"{PLAYLIST}?_HLS_msn=4&_HLS_part=3")) is None
    assert newest.satisfying(blocking_reload(f"{PLAYLIST}?_HLS_msn=3&_HLS_part=1&_HLS_skip=YES")) is None
    # once that answer has expired: the part after it, the request's other parameters kept in place
    assert newest.catching_up(blocking_reload(f"{PLAYLIST}?_HLS_msn=3&_HLS_part=6")) == f"{PLAYLIST}?_HLS_msn=4&_HLS_part=3"
    assert newest.catching_up(blocking_reload(f"{PLAYLIST}?_HLS_msn=4&_HLS_part=3")) is None
    delta = f"{PLAYLIST}?_HLS_skip=YES&_HLS_msn=7&_HLS_part=0"
    newest.stored(blocking_reload(delta), delta)
    assert newest.catching_up(blocking_reload(f"{PLAYLIST}?_HLS_msn=7&_HLS_part=0&_HLS_skip=YES")) == (
        f"{PLAYLIST}?_HLS_skip=YES&_HLS_msn=7&_HLS_part=1")


@pytest.fixture()
def short_lived_origin(tmp_path: Path) -> Iterator[tuple[str, SyntheticChannel, asyncio.AbstractEventLoop]]:
    """A live origin whose blocked answers live 1 s (not 6), so an old version expires within a test."""
    channel = SyntheticChannel(tmp_path)
    timeline = RungTimeline("360p", tmp_path / "360p", 2.0, 60.0)
    timeline.start_generation(b"init", INIT)
    channel.timelines["360p"] = timeline
    for _ in range(3):
        channel.add_part()
    settings = LiveOriginSettings(block_timeout_targets=2, blocked_cache_control="public, max-age=1")
    with serving_origin(channel, settings) as (base, loop):
        yield base, channel, loop


def _blocked_requests(live_origin: str) -> int:
    match = re.search(r'kind="blocked_playlist"\} (\d+)', httpx.get(f"{live_origin}/metrics", trust_env=False).text)
    return int(match.group(1)) if match else 0


async def _many(url: str, params: dict[str, object], n: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=n), timeout=15, trust_env=False) as client:
        return await asyncio.gather(*(client.get(url, params=params) for _ in range(n)))


@pytest.mark.parametrize("engine", ["python", "varnish"])
def test_each_playlist_version_reaches_the_origin_once_even_for_viewers_behind_the_live_edge(
    engine: str, short_lived_origin: tuple[str, SyntheticChannel, asyncio.AbstractEventLoop], tmp_path: Path,
) -> None:
    live_origin, channel, loop = short_lived_origin
    state_dir = tmp_path / "live-state"
    (state_dir / "synthetic").mkdir(parents=True)
    (state_dir / "synthetic" / "state.json").write_text(json.dumps({"state": "live", "origin_url": live_origin}))
    with running_cluster(engine, media_root=tmp_path / "media", overrides=[f"origin.live.state_dir={state_dir}"]) as cluster:
        url = cluster.edge_urls[0] + PLAYLIST
        before = _blocked_requests(live_origin)
        # the crowd at the live edge: every viewer blocked on the next version, one origin request
        loop.call_soon_threadsafe(loop.call_later, 0.5, channel.add_part)
        answers = asyncio.run(_many(url, {"_HLS_msn": 0, "_HLS_part": 3, "_HLS_skip": "YES"}, VIEWERS))
        assert [r.status_code for r in answers] == [200] * VIEWERS
        assert all('URI="seg0.3.m4s"' in r.text for r in answers)
        assert _blocked_requests(live_origin) - before == 1
        # the next version comes once the first one's answer has expired in every tier
        loop.call_soon_threadsafe(loop.call_later, 1.3, channel.add_part)
        answers = asyncio.run(_many(url, {"_HLS_msn": 0, "_HLS_part": 4, "_HLS_skip": "YES"}, VIEWERS))
        assert all('URI="seg0.4.m4s"' in r.text for r in answers)
        assert _blocked_requests(live_origin) - before == 2
        # a viewer a stall left behind asks for the old version: the newer answer serves it
        behind = httpx.get(url, params={"_HLS_msn": 0, "_HLS_part": 3, "_HLS_skip": "YES"}, timeout=15, trust_env=False)
        assert behind.status_code == 200 and 'URI="seg0.4.m4s"' in behind.text
        assert _blocked_requests(live_origin) - before == 2
        # a full (not delta) playlist is another view of the version: it is fetched for itself
        full = httpx.get(url, params={"_HLS_msn": 0, "_HLS_part": 3}, timeout=15, trust_env=False)
        assert full.status_code == 200 and "EXT-X-SKIP" not in full.text
        assert _blocked_requests(live_origin) - before == 3


def test_only_an_answer_naming_the_version_asked_for_is_cached_long(origin) -> None:  # noqa: ANN001, F811
    url, channel, loop = origin  # parts 0.0-0.2 exist; blocked answers max-age=6, playlists max-age=1
    loop.call_soon_threadsafe(loop.call_later, 0.3, channel.add_part)
    waited = httpx.get(url, params={"_HLS_msn": 0, "_HLS_part": 3}, timeout=5, trust_env=False)
    newest = httpx.get(url, params={"_HLS_msn": 0, "_HLS_part": 3}, timeout=5, trust_env=False)
    passed = httpx.get(url, params={"_HLS_msn": 0, "_HLS_part": 1}, timeout=5, trust_env=False)
    assert [r.status_code for r in (waited, newest, passed)] == [200, 200, 200]
    assert waited.headers["cache-control"] == newest.headers["cache-control"] == "public, max-age=6"
    assert 'URI="seg0.3.m4s"' in passed.text  # the current playlist, not the state its URL names ...
    assert passed.headers["cache-control"] == "public, max-age=1"  # ... so kept no longer than a playlist


def test_a_version_whose_newer_answer_expired_too_is_not_fetched_again(
    short_lived_origin: tuple[str, SyntheticChannel, asyncio.AbstractEventLoop], tmp_path: Path,
) -> None:
    """The Python tiers' catch-up: on a playlist nobody watches at the live edge, every stored answer
    expires before the next request, so an old version used to be fetched again under its own key
    (3.6% of a saturated crowd's playlist versions, all 180p). The tier now asks for the version after the newest
    it stored: each upstream request is for a version it never fetched, answered the same way."""
    live_origin, channel, loop = short_lived_origin  # parts 0.0-0.2 exist; every playlist answer lives 1 s
    state_dir = tmp_path / "live-state"
    (state_dir / "synthetic").mkdir(parents=True)
    (state_dir / "synthetic" / "state.json").write_text(json.dumps({"state": "live", "origin_url": live_origin}))
    with running_cluster("python", media_root=tmp_path / "media", overrides=[f"origin.live.state_dir={state_dir}"]) as cluster:
        url = cluster.edge_urls[0] + PLAYLIST

        def ask(part: int) -> httpx.Response:
            answer = httpx.get(url, params={"_HLS_msn": 0, "_HLS_part": part}, timeout=15, trust_env=False)
            assert answer.status_code == 200
            return answer

        assert 'URI="seg0.2.m4s"' in ask(1).text  # a version already out: the current playlist
        time.sleep(1.3)  # expired in every tier
        assert 'URI="seg0.2.m4s"' in ask(1).text  # the same version again: fetched as (0, 2), out already
        time.sleep(1.3)
        loop.call_soon_threadsafe(loop.call_later, 0.3, channel.add_part)
        assert 'URI="seg0.3.m4s"' in ask(0).text  # covered by (0, 2): fetched as (0, 3), the live edge
        for tier_url in [*cluster.shield_urls, *cluster.edge_urls]:
            versions = httpx.get(tier_url + "/_stats", timeout=5, trust_env=False).json()["upstream_fetches"]["playlist_version"]
            assert (versions["objects"], versions["max"]) == (3, 1), tier_url
