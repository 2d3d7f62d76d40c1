"""Live through the delivery stack (edge → shield → origin → the channel's live origin), fed
synthetic parts (no FFmpeg): the origin's ``/live/`` route proxies to the channel named in its
``state.json``, the tiers cache by the live origin's ``Cache-Control``, and N viewers blocked on
the same next part cost the live origin one request (counted there, on its ``/metrics``)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from streamlab.streaming.delivery.settings import load_delivery_settings
from streamlab.streaming.delivery.stack import RunningStack, running_stack
from streamlab.streaming.live.settings import load_live_settings
from tests.live.test_origin_blocking import SyntheticChannel, origin  # noqa: F401 - the fixture

VIEWERS = 50


def live_requests(metrics_text: str, kind: str) -> int:
    """``streamlab_live_origin_requests_total{kind=...}`` from the live origin's /metrics."""
    match = re.search(rf'^streamlab_live_origin_requests_total\{{kind="{kind}"\}} (\d+)', metrics_text, re.M)
    return int(match.group(1)) if match else 0


@pytest.fixture()
def edge(origin: tuple[str, SyntheticChannel, asyncio.AbstractEventLoop], tmp_path: Path) -> Iterator[tuple[RunningStack, str, SyntheticChannel, asyncio.AbstractEventLoop]]:  # noqa: F811
    url, channel, loop = origin
    live_origin = url.split("/live/")[0]
    state_dir = tmp_path / "live-state"
    (state_dir / "synthetic").mkdir(parents=True)
    (state_dir / "synthetic" / "state.json").write_text(json.dumps({"state": "live", "origin_url": live_origin}))
    (state_dir / "gone").mkdir()
    (state_dir / "gone" / "state.json").write_text(json.dumps({"state": "stopped", "origin_url": live_origin}))
    with running_stack(media_root=tmp_path / "media", overrides=[f"origin.live.state_dir={state_dir}"]) as stack:
        yield stack, live_origin, channel, loop


async def _many(url: str, params: dict[str, int], n: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=n), timeout=15, trust_env=False) as client:
        return await asyncio.gather(*(client.get(url, params=params) for _ in range(n)))


def test_viewers_blocked_on_the_next_part_cost_the_live_origin_one_request(edge) -> None:  # noqa: ANN001
    stack, live_origin, channel, loop = edge
    base = f"{stack.edge_url}/live/synthetic/360p"
    before = httpx.get(f"{live_origin}/metrics").text
    loop.call_later(0.8, channel.add_part)  # seg0.3 appears while all viewers wait at the edge
    playlists = asyncio.run(_many(f"{base}/playlist.m3u8", {"_HLS_msn": 0, "_HLS_part": 3}, VIEWERS))
    assert [r.status_code for r in playlists] == [200] * VIEWERS
    assert all('URI="seg0.3.m4s"' in r.text for r in playlists)
    assert {r.headers["cache-control"] for r in playlists} == {"public, max-age=6"}  # the live origin's policy
    assert sorted({r.headers["x-cache"] for r in playlists}) == ["COALESCED", "MISS"]

    loop.call_later(0.8, channel.add_part)  # the preload-hinted part seg0.4 is written later
    parts = asyncio.run(_many(f"{base}/seg0.4.m4s", {}, VIEWERS))
    assert [r.status_code for r in parts] == [200] * VIEWERS and len({r.content for r in parts}) == 1
    after = httpx.get(f"{live_origin}/metrics").text
    assert live_requests(after, "blocked_playlist") - live_requests(before, "blocked_playlist") == 1
    assert live_requests(after, "media") - live_requests(before, "media") == 1
    # the answers are cached under their full URL (query included): a late viewer is a HIT
    late = httpx.get(f"{base}/playlist.m3u8", params={"_HLS_msn": 0, "_HLS_part": 3})
    assert late.headers["x-cache"] == "HIT" and late.text == playlists[0].text


def test_a_part_that_never_comes_is_one_shared_503_and_not_cached(edge) -> None:  # noqa: ANN001
    stack, live_origin, _, _ = edge
    url = f"{stack.edge_url}/live/synthetic/360p/playlist.m3u8"
    before = live_requests(httpx.get(f"{live_origin}/metrics").text, "blocked_playlist")
    answers = asyncio.run(_many(url, {"_HLS_msn": 1, "_HLS_part": 0}, 10))
    assert [r.status_code for r in answers] == [503] * 10
    assert live_requests(httpx.get(f"{live_origin}/metrics").text, "blocked_playlist") - before == 1
    again = httpx.get(url, params={"_HLS_msn": 1, "_HLS_part": 0}, timeout=15)
    assert again.status_code == 503 and again.headers["x-cache"] == "MISS"  # never stored


def test_live_playlists_and_media_pass_the_edge_with_their_ttls(edge) -> None:  # noqa: ANN001
    stack, _, _, _ = edge
    base = f"{stack.edge_url}/live/synthetic"
    playlist = httpx.get(f"{base}/360p/playlist.m3u8")
    assert playlist.status_code == 200 and playlist.text.startswith("#EXTM3U")
    assert playlist.headers["cache-control"] == "public, max-age=1"
    assert httpx.get(f"{base}/360p/playlist.m3u8").headers["x-cache"] == "HIT"
    part = httpx.get(f"{base}/360p/seg0.0.m4s")
    assert part.status_code == 200 and "immutable" in part.headers["cache-control"]
    assert playlist.headers["access-control-allow-origin"] == "*"  # one CORS header, this stack's


def test_unknown_stopped_and_bad_channels_are_clear_4xx(edge) -> None:  # noqa: ANN001
    stack, _, _, _ = edge
    unknown = httpx.get(f"{stack.edge_url}/live/nosuch/master.m3u8")
    assert unknown.status_code == 404 and "live channel 'nosuch' is unknown" in unknown.text
    assert unknown.headers["cache-control"] == "no-store"
    assert httpx.get(f"{stack.edge_url}/live/nosuch/master.m3u8").headers["x-cache"] == "MISS"  # not cached
    stopped = httpx.get(f"{stack.edge_url}/live/gone/master.m3u8")
    assert stopped.status_code == 404 and "is not running" in stopped.text
    bad = httpx.get(f"{stack.edge_url}/live/Bad%20Name/master.m3u8")
    assert bad.status_code == 400


def test_every_tier_waits_longer_than_the_live_block_bound() -> None:
    """A tier giving up before the live origin answers a blocked request would turn a good
    LL-HLS wait into a 504: the configured timeouts must exceed the block bound."""
    live = load_live_settings()
    bound_s = live.origin.block_timeout_targets * live.target_duration_s
    delivery = load_delivery_settings()
    assert delivery.upstream.timeout_s > bound_s and delivery.origin.live.upstream_timeout_s > bound_s


def test_live_status_prints_the_playback_url_through_the_edge(
    edge, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # noqa: ANN001
) -> None:
    from streamlab.cli.live import _print_status
    from streamlab.streaming.live.lifecycle import channel_status
    from streamlab.streaming.live.state import ChannelPaths, write_json_atomically

    stack, live_origin, _, _ = edge
    monkeypatch.setenv("STREAMLAB_HOME", str(tmp_path / "home"))
    for edge_url, expected in ((stack.edge_url, "(edge answering)"), ("http://127.0.0.1:9", "(no edge answering")):
        write_json_atomically(ChannelPaths.for_channel("synthetic").state, {
            "channel": "synthetic", "state": "live", "origin_url": live_origin, "edge_url": edge_url,
            "edge_hls_url": f"{edge_url}/live/synthetic/master.m3u8",
        })
        _print_status(channel_status("synthetic"))
        line = next(line for line in capsys.readouterr().out.splitlines() if "HLS (edge)" in line)
        assert f"{edge_url}/live/synthetic/master.m3u8" in line and expected in line


def test_the_edge_url_comes_from_the_delivery_config_unless_set() -> None:
    from streamlab.streaming.live.settings import edge_base_url

    delivery = load_delivery_settings()
    assert edge_base_url(load_live_settings()) == f"http://{delivery.host}:{delivery.edge_port}"
    assert edge_base_url(load_live_settings(["edge_url=http://cdn.example:80/"])) == "http://cdn.example:80"
    assert edge_base_url(load_live_settings(["edge_url=none"])) is None
