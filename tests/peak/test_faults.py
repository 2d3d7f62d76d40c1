"""Faults during a crowd: a shield, then the origin, restart for 5 s each; viewers retry like hls.js
(retries counted apart from failures), none errors out, and the crowd gets back to its pre-fault
latency to live within 10 s of the tier's return."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from streamlab.core.errors import UsageError
from streamlab.pipelines.peak.faults import recovery
from streamlab.pipelines.peak.run import run_peak
from streamlab.pipelines.peak.settings import FaultSettings, load_peak_settings
from streamlab.streaming.delivery.engines.cluster import running_cluster
from streamlab.streaming.delivery.engines.faults import Fault, parse_faults, request_fault
from streamlab.streaming.delivery.sample_title import build_sample_title
from tests.peak.test_crowd import TWO_RUNGS


def test_a_fault_plan_is_read_and_a_bad_one_is_one_clear_error() -> None:
    assert parse_faults(["shield:5", "origin:2.5", "shield1:3"]) == [
        Fault("shield", 5.0), Fault("origin", 2.5), Fault("shield", 3.0, 1)]
    for bad in ("edge:5", "shield", "shield:0", "shield:x", "origin2:5", "shield:500"):
        with pytest.raises(UsageError, match="bad fault"):
            parse_faults([bad])
    settings = load_peak_settings(["faults.plan=[varnish:5]"])
    with pytest.raises(UsageError, match="bad fault"):
        run_peak(settings)  # before the channel or the cluster start


def test_recovery_is_the_first_second_back_within_tolerance_of_the_pre_fault_latency() -> None:
    settings = FaultSettings(baseline_s=5, recovery_tolerance_s=0.5)
    # one viewer: 1.0 s latency before, the tier down 100-105, 4 s after it, back to 1.2 from 108
    stamps = [float(t) for t in range(90, 120)]
    latency = [1.0 if t < 100 else 4.0 if t < 108 else 1.2 for t in range(90, 120)]
    viewers = [{"latency_at": stamps, "latency_s": latency}]
    [out] = recovery(viewers, [{"down_at": 100.0, "up_at": 105.0}], settings, end_wall=120.0)
    assert out["baseline_latency_s"] == 1.0 and out["worst_latency_after_s"] == 4.0
    assert out["recovery_s"] == 4.0 and out["recovered_within_limit"]
    [never] = recovery(viewers, [{"down_at": 100.0, "up_at": 105.0}], settings, end_wall=107.5)
    assert never["recovery_s"] is None and not never["recovered_within_limit"]


@pytest.mark.parametrize("engine", ["python", "varnish"])
def test_while_a_shield_restarts_the_edge_goes_to_the_origin_then_back_to_the_empty_shield(engine: str, tmp_path: Path) -> None:
    media = tmp_path / "media"
    build_sample_title(media, "sample", duration_s=2.0)
    faults = tmp_path / "faults"
    faults.mkdir()
    with running_cluster(engine, media_root=media, shields=1, fault_dir=faults) as cluster, \
            httpx.Client(trust_env=False, timeout=5) as client:
        shield, edge = cluster.shield_urls[0], cluster.edge_urls[0]
        segment = "/media/sample/180p_400k/seg_00001.m4s"
        assert client.get(f"{shield}/media/sample/master.m3u8").status_code == 200
        assert client.get(f"{shield}{segment}").status_code == 200
        assert client.get(f"{shield}/_stats").json()["misses"] >= 1
        with ThreadPoolExecutor(1) as pool:
            restart = pool.submit(request_fault, faults, 0, Fault("shield", 2.0), 20.0)
            time.sleep(0.5)
            with pytest.raises(httpx.ConnectError):
                client.get(f"{shield}/healthz")
            # no error for the viewers: the edge fetched from the origin itself (no shield in the chain)
            during = client.get(f"{edge}/media/sample/title.json")
            assert during.status_code == 200 and "shield" not in during.headers["x-cache-chain"]
            outcome = restart.result()
        assert outcome["up_at"] - outcome["down_at"] >= 2.0
        assert client.get(f"{shield}/_stats").json()["misses"] == 0  # a new shield: its cache starts empty
        # its origin fetches are counted on with the old one's, the refetch put down to the restart
        assert client.get(f"{shield}{segment}").status_code == 200
        media = client.get(f"{shield}/_stats").json()["upstream_fetches"]["media"]
        assert media["max"] == 2 and media["max_outside_faults"] == 1 and media["refetch_causes"]["after_restart"] == 1
        after = client.get(f"{edge}/media/sample/master.m3u8?after")
        assert after.status_code == 200 and "shield=MISS" in after.headers["x-cache-chain"]  # back through the shield
        if engine == "python":
            assert client.get(f"{edge}/_stats").json()["failovers"] >= 1


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["python", "varnish"])
def test_a_crowd_rides_out_a_shield_then_an_origin_restart(engine: str, raw_dir: Path, tmp_path: Path) -> None:
    settings = load_peak_settings([
        f"edge={engine}", "crowd.viewers=40", "crowd.duration_s=28", "crowd.ramp_s=3", "crowd.workers=1",
        f"crowd.traces={raw_dir / 'abr' / 'train_traces'}", f"results_dir={tmp_path}",
        "faults.plan=[shield:5,origin:5]", "faults.first_at_s=5", "faults.gap_s=3",
    ])
    settings.channel.live_overrides = [TWO_RUNGS]
    result = run_peak(settings)
    assert [f["fault"] for f in result["faults"]] == ["shield:5", "origin:5"]
    assert all(f["down_s"] >= 5 for f in result["faults"])
    assert result["retried_requests"] > 0  # the restarts were felt ...
    assert result["failed_requests"] == 0 and result["viewers_errored_out"] == 0  # ... and ridden out
    for fault in result["faults"]:
        assert fault["recovered_within_limit"], fault
    # the edge went to the origin while the shield was down: the crowd did not even fall behind
    assert result["faults"][0]["recovery_s"] <= 1.0, result["faults"][0]
    # the restarts' refetches are counted apart: outside them every part reached the origin once
    fetches = result["origin_fetches_per_object"]
    assert fetches["media"]["max_outside_faults"] == 1 and result["origin_gaps_outside_faults"] == 0, fetches
    assert fetches["media"]["refetch_causes"]["after_error"] + fetches["playlist_version"]["refetch_causes"]["after_error"] > 0
