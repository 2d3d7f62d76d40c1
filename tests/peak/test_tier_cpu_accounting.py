"""Each tier's CPU is its own: varnishd runs as a child of the Python tiers' process, and the
Python tiers must not be charged for it (``peak run``'s ``cpu_share``/``cost_ms_per_request``).

Counted as one process tree, the delivery process's CPU grew with the viewers (0.106 -> 0.201 ->
0.542 of a core at 100 -> 300 -> 1000 viewers) while it served ~20 requests/s: that growth was
varnishd's. Asserted here on which processes each tier counts, and on a crowd of hits that only
varnishd serves.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import psutil
import pytest

from streamlab.streaming.delivery.engines.cluster import cluster_in_subprocess, tier_cpu_s, tier_processes
from streamlab.streaming.delivery.sample_title import build_sample_title

HITS = 3000
"""Requests only varnishd answers (hits on one immutable segment): enough for its CPU to show."""


@pytest.fixture(scope="module")
def media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("media")
    build_sample_title(root, "sample", duration_s=2.0)
    return root


def test_the_python_tiers_are_not_charged_varnishds_cpu(media_root: Path) -> None:
    with cluster_in_subprocess(engine="varnish", media_root=str(media_root)) as cluster:
        pid, varnish_pids = int(cluster["pid"]), cluster["varnish_pids"]
        whole_tree = {p.pid for p in psutil.Process(pid).children(recursive=True)}
        assert set(varnish_pids) <= whole_tree  # varnishd is the cluster's child: one tree would count it twice

        tiers = tier_processes(pid, varnish_pids)
        cluster_pids, varnish = {p.pid for p in tiers["cluster"]}, {p.pid for p in tiers["varnish"]}
        assert pid in cluster_pids and set(varnish_pids) <= varnish
        assert not cluster_pids & varnish
        assert varnish == whole_tree & varnish  # the manager and its cache child, nothing else
        assert len(varnish) >= 2 * len(varnish_pids)

        url = cluster["edges"][0] + "/media/sample/180p_400k/seg_00001.m4s"
        shield = cluster["shields"][0] + "/_stats"
        with httpx.Client(trust_env=False, timeout=10) as client:
            assert client.get(url).status_code == 200  # the one miss: cached from here on
            shield_before = client.get(shield).json()["requests"]
            before = tier_cpu_s(pid, varnish_pids)
            for _ in range(HITS):
                assert client.get(url).headers["x-cache"] == "HIT"
            after = tier_cpu_s(pid, varnish_pids)
            assert client.get(shield).json()["requests"] == shield_before  # the Python tiers saw none of them
        varnish_s, python_s = after["varnish"] - before["varnish"], after["cluster"] - before["cluster"]
        assert varnish_s > 0
        assert python_s < varnish_s  # an idle event loop, not the hits' cost (all-in-one-tree: python_s > varnish_s)
