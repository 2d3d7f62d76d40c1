"""Shield selection: one rendezvous hash in Python and in the generated VCL; adding an edge (of either
engine) adds no origin requests beyond one per object per shield."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from streamlab.streaming.delivery.engines.cluster import running_cluster
from streamlab.streaming.delivery.engines.shields import pick_shield, shard_key, shield_names
from tests.live.test_origin_blocking import SyntheticChannel, origin  # noqa: F401 - the fixture

TITLES = [f"t{i}" for i in range(12)]


def test_the_shard_key_is_the_channel_or_title() -> None:
    assert shard_key("/live/news/360p/seg3.1.m4s?x=1") == "live/news"
    assert shard_key("/media/bbb/720p/seg_00001.m4s") == "media/bbb"
    assert shard_key("/api/titles?limit=3") == "/api/titles?limit=3"


def test_adding_a_shield_moves_only_the_keys_it_takes() -> None:
    keys = [f"/media/title{i}/master.m3u8" for i in range(2000)]
    before = [pick_shield(k, shield_names(4)) for k in keys]
    after = [pick_shield(k, shield_names(5)) for k in keys]
    moved = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    assert all(a == 4 for _, a in moved)  # every key that moved went to the new shield
    assert 0.1 < len(moved) / len(keys) < 0.3  # about 1/5 of them
    assert set(Counter(before)) == {0, 1, 2, 3}


@pytest.mark.parametrize("engine", ["python", "varnish"])
def test_every_engine_picks_the_shield_the_hash_names(engine: str, tmp_path: Path) -> None:
    with running_cluster(engine, edges=1, shields=3, media_root=tmp_path) as cluster, httpx.Client() as client:
        before = [client.get(url + "/_stats").json()["requests"] for url in cluster.shield_urls]
        chosen = []
        for title in TITLES:
            client.get(f"{cluster.edge_urls[0]}/media/{title}/master.m3u8")  # 404s: negative-cached, one shield request
            after = [client.get(url + "/_stats").json()["requests"] for url in cluster.shield_urls]
            chosen.append([i for i, (a, b) in enumerate(zip(after, before, strict=True)) if a != b])
            before = after
    expected = [[pick_shield(f"/media/{title}/master.m3u8", shield_names(3))] for title in TITLES]
    assert chosen == expected
    assert len({c[0] for c in chosen}) == 3


def _live_media_requests(live_origin: str) -> int:
    return int(re.search(r'kind="media"\} (\d+)', httpx.get(f"{live_origin}/metrics").text).group(1))


@pytest.fixture()
def live_state(origin, tmp_path: Path) -> Iterator[tuple[Path, str]]:  # noqa: ANN001, F811
    url, _, _ = origin
    live_origin = url.split("/live/")[0]
    state_dir = tmp_path / "live-state"
    (state_dir / "synthetic").mkdir(parents=True)
    (state_dir / "synthetic" / "state.json").write_text(json.dumps({"state": "live", "origin_url": live_origin}))
    yield state_dir, live_origin


async def _everyone(urls: list[str]) -> list[int]:
    async with httpx.AsyncClient(timeout=15, trust_env=False) as client:
        return [r.status_code for r in await asyncio.gather(*(client.get(u) for u in urls))]


@pytest.mark.parametrize("engine", ["python", "varnish"])
def test_more_edges_cost_the_origin_no_more_than_one_request_per_part_per_shield(engine: str, live_state, tmp_path: Path) -> None:  # noqa: ANN001
    state_dir, live_origin = live_state
    with running_cluster(engine, edges=3, shields=2, media_root=tmp_path / "media",
                         overrides=[f"origin.live.state_dir={state_dir}"]) as cluster:
        before = _live_media_requests(live_origin)
        parts = ["seg0.0.m4s", "seg0.1.m4s", "seg0.2.m4s"]
        urls = [f"{edge}/live/synthetic/360p/{part}" for edge in cluster.edge_urls for part in parts for _ in range(5)]
        assert asyncio.run(_everyone(urls)) == [200] * len(urls)
        # one channel hashes to one shield: each part reaches the live origin once, whatever the edges
        assert _live_media_requests(live_origin) - before == len(parts)
