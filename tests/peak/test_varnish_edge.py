"""The Varnish edge (generated VCL, varnishd as a child process) against the real origin and shield.

VOD answers carry the same headers as the Python edge's; N viewers blocked on the same LL-HLS
part cost the live origin one request; a segment being written is relayed chunk by chunk; bad
inputs (port in use, varnishd missing) are one clear error.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from streamlab.streaming.delivery.engines.cluster import Cluster, running_cluster
from streamlab.streaming.delivery.engines.varnish import EngineError, generate_vcl, start_varnish
from streamlab.streaming.delivery.sample_title import build_sample_title
from streamlab.streaming.delivery.settings import load_delivery_settings
from tests.live.test_origin_blocking import SyntheticChannel, origin  # noqa: F401 - the fixture

# varnish is installed by `make setup` (Debian package): a missing varnishd fails these tests, never skips them.

VIEWERS = 50
COMPARED_HEADERS = ("cache-control", "content-type", "content-length", "etag", "accept-ranges",
                    "access-control-allow-origin", "access-control-expose-headers", "x-cache-tier")


@pytest.fixture(scope="module")
def media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("media")
    build_sample_title(root, "sample", duration_s=2.0)
    return root


@pytest.fixture(scope="module")
def both(media_root: Path) -> Iterator[tuple[Cluster, Cluster]]:
    with running_cluster("python", media_root=media_root) as python, running_cluster("varnish", media_root=media_root) as varnish:
        yield python, varnish


def test_the_generated_vcl_compiles(tmp_path: Path) -> None:
    vcl = tmp_path / "edge.vcl"
    vcl.write_text(generate_vcl(load_delivery_settings(), ["http://127.0.0.1:9001", "http://127.0.0.1:9002"]))
    result = subprocess.run(["/usr/sbin/varnishd", "-C", "-j", "none", "-f", str(vcl), "-n", str(tmp_path / "n")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("path", ["/media/sample/master.m3u8", "/media/sample/title.json", "/media/sample/nope.m3u8",
                                  "/api/titles"])
def test_vod_answers_carry_the_python_edges_headers(both: tuple[Cluster, Cluster], path: str) -> None:
    python, varnish = both
    answers = []
    for cluster in (python, varnish):
        httpx.get(cluster.edge_urls[0] + path)  # warm: the second answer is a hit on both
        answers.append(httpx.get(cluster.edge_urls[0] + path))
    (p, v) = answers
    assert p.status_code == v.status_code
    assert p.content == v.content
    assert {h: p.headers.get(h) for h in COMPARED_HEADERS} == {h: v.headers.get(h) for h in COMPARED_HEADERS}
    assert p.headers["x-cache"] == v.headers["x-cache"] == "HIT"
    assert v.headers["x-cache-chain"].endswith("edge=HIT") and "x-varnish" not in v.headers and "via" not in v.headers


def test_a_segment_range_and_revalidation_are_answered_from_the_varnish_cache(both: tuple[Cluster, Cluster]) -> None:
    _, varnish = both
    playlist = httpx.get(varnish.edge_urls[0] + "/media/sample/master.m3u8").text
    variant = next(line for line in playlist.splitlines() if line and not line.startswith("#"))
    media = httpx.get(f"{varnish.edge_urls[0]}/media/sample/{variant}").text
    segment = next(line for line in media.splitlines() if line.endswith(".m4s"))
    url = f"{varnish.edge_urls[0]}/media/sample/{variant.rsplit('/', 1)[0]}/{segment}"
    full = httpx.get(url)
    ranged = httpx.get(url, headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and ranged.content == full.content[:100]
    assert httpx.get(url, headers={"If-None-Match": full.headers["etag"]}).status_code == 304


def test_preflights_and_bad_paths_behave_like_the_python_edge(both: tuple[Cluster, Cluster]) -> None:
    python, varnish = both
    statuses = []
    for cluster in (python, varnish):
        preflight = httpx.options(cluster.edge_urls[0] + "/media/sample/master.m3u8",
                                  headers={"Origin": "http://elsewhere", "Access-Control-Request-Method": "GET"})
        statuses.append(preflight.status_code)
        assert preflight.headers["x-cache"] == "PASS"
        assert preflight.headers["access-control-allow-origin"] == "*"
        assert "GET" in preflight.headers["access-control-allow-methods"]
        host, port = cluster.edge_urls[0].removeprefix("http://").split(":")
        for target in (b"/media/../etc/passwd", b"/media/%2E%2e/etc/passwd", b"/media/sample/%2e/master.m3u8",
                       b"/media/a%5cb", b"/media/a%00b"):
            with socket.create_connection((host, int(port)), timeout=5) as raw:
                raw.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                head = raw.recv(4096).decode("latin-1")
            assert head.startswith("HTTP/1.1 400"), (cluster.engine, target, head)
    assert statuses[0] == statuses[1]


def _live_requests(origin_url: str, kind: str) -> int:
    text = httpx.get(f"{origin_url}/metrics").text
    match = re.search(rf'kind="{kind}"\}} (\d+)', text)
    return int(match.group(1)) if match else 0


@pytest.fixture()
def live_varnish(origin, tmp_path: Path) -> Iterator[tuple[Cluster, str, SyntheticChannel, asyncio.AbstractEventLoop]]:  # noqa: ANN001, F811
    url, channel, loop = origin
    live_origin = url.split("/live/")[0]
    state_dir = tmp_path / "live-state"
    (state_dir / "synthetic").mkdir(parents=True)
    (state_dir / "synthetic" / "state.json").write_text(json.dumps({"state": "live", "origin_url": live_origin}))
    with running_cluster("varnish", media_root=tmp_path / "media", overrides=[f"origin.live.state_dir={state_dir}"]) as cluster:
        yield cluster, live_origin, channel, loop


async def _many(url: str, params: dict[str, int], n: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=n), timeout=15, trust_env=False) as client:
        return await asyncio.gather(*(client.get(url, params=params) for _ in range(n)))


def test_viewers_blocked_on_the_next_part_cost_the_live_origin_one_request_through_varnish(live_varnish) -> None:  # noqa: ANN001
    cluster, live_origin, channel, loop = live_varnish
    base = f"{cluster.edge_urls[0]}/live/synthetic/360p"
    before = _live_requests(live_origin, "blocked_playlist")
    loop.call_later(0.8, channel.add_part)  # seg0.3 appears while every viewer waits at the edge
    answers = asyncio.run(_many(f"{base}/playlist.m3u8", {"_HLS_msn": 0, "_HLS_part": 3}, VIEWERS))
    assert [r.status_code for r in answers] == [200] * VIEWERS
    assert all('URI="seg0.3.m4s"' in r.text for r in answers)
    assert {r.headers["cache-control"] for r in answers} == {"public, max-age=6"}
    assert _live_requests(live_origin, "blocked_playlist") - before == 1
    assert cluster.varnish[0].counters()["backend_req"] >= 1


def test_a_segment_being_written_streams_through_varnish_chunk_by_chunk(live_varnish) -> None:  # noqa: ANN001
    cluster, live_origin, channel, loop = live_varnish
    url = f"{cluster.edge_urls[0]}/live/synthetic/360p/seg0.m4s"  # open: parts 0-2 written, 3-5 to come
    for delay in (0.6, 1.2, 1.8, 2.4):  # seg0.3..0.5, then seg1.0 closes seg0
        loop.call_later(delay, channel.add_part)
    arrivals = []
    started = time.monotonic()
    with httpx.stream("GET", url, timeout=15) as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers  # chunked: the length is unknown while it is written
        for chunk in response.iter_raw():
            arrivals.append((time.monotonic() - started, len(chunk)))
    assert arrivals[-1][0] > 1.5, arrivals  # the body ends when the segment does (seg1.0 at 2.4 s)
    assert arrivals[0][0] < arrivals[-1][0] - 1.0, arrivals  # written parts arrive long before the end, not with it
    assert sum(size for _, size in arrivals) == len((channel.folder / "360p" / "seg0.m4s").read_bytes())


def test_a_port_in_use_is_one_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(EngineError, match=rf"cannot listen on 127.0.0.1:{port}"):
            start_varnish(load_delivery_settings(), ["http://127.0.0.1:9"], port=port)


def test_a_missing_varnishd_is_one_clear_error() -> None:
    settings = load_delivery_settings(["varnish.varnishd=/nonexistent/varnishd"])
    with pytest.raises(EngineError, match="varnishd not found at '/nonexistent/varnishd'"):
        start_varnish(settings, ["http://127.0.0.1:9"])
