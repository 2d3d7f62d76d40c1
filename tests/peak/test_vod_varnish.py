"""VOD through the Varnish edge: the delivery benchmark's load (every manifest and segment of a title,
many keep-alive viewers, a cold pass then warm passes) has no failed request and an edge hit ratio
at least the Python edge's. A small title and 20 viewers here; ``make bench`` runs the real one."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bench_delivery import _run_engine, _side_by_side, _title_urls
from streamlab.streaming.delivery.sample_title import build_sample_title

# varnish is installed by `make setup` (Debian package): a missing varnishd fails these tests, never skips them.


def test_vod_through_varnish_fails_no_request_and_hits_at_least_as_often_as_the_python_edge(tmp_path: Path) -> None:
    media_root = tmp_path / "media"
    build_sample_title(media_root, "bbb", duration_s=4.0)
    urls = _title_urls(media_root)
    sizes = {url: (media_root / url.removeprefix("/media/")).stat().st_size for url in urls}
    results = {engine: _run_engine(engine, media_root, urls, sizes, clients=20, warm_s=2.0) for engine in ("python", "varnish")}
    varnish = results["varnish"]
    assert varnish["errors"] == 0, varnish["warm"]
    assert varnish["edge"]["requests"] >= varnish["cold"]["requests"] + varnish["warm"]["requests"]  # type: ignore[index, operator]
    # the edge coalesced the 20 viewers' misses: a few shield requests per object, not 20
    assert varnish["shield"]["requests"] <= len(urls) * 2  # type: ignore[index, operator]
    table = _side_by_side(results)
    assert table["varnish"]["hit_ratio_at_least_python"] and table["varnish"]["offload_at_least_python"], table
