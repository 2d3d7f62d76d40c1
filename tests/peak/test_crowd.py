"""A small flash crowd of real LL-HLS clients through each edge engine, against the synthetic live
channel: no failed request, one origin request per part per shield, deliveries and latency measured."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamlab.pipelines.peak.run import run_peak
from streamlab.pipelines.peak.settings import load_peak_settings

TWO_RUNGS = ("transcode.ladder=[{name: 360p, width: 640, height: 360, bitrate_kbps: 800},"
             " {name: 180p, width: 320, height: 180, bitrate_kbps: 250}]")


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["python", "varnish"])
def test_a_crowd_of_50_viewers_plays_through_the_edge_without_a_failed_request(engine: str, raw_dir: Path, tmp_path: Path) -> None:
    settings = load_peak_settings([
        f"edge={engine}", "crowd.viewers=50", "crowd.duration_s=15", "crowd.ramp_s=5", "crowd.workers=1",
        f"crowd.traces={raw_dir / 'abr' / 'train_traces'}", f"results_dir={tmp_path}",
    ])
    settings.channel.live_overrides = [TWO_RUNGS]
    result = run_peak(settings)
    assert result["viewers_joined"] == 50
    assert result["failed_requests"] == 0 and result["viewers_errored_out"] == 0
    assert result["requests_per_s"] > 50 * 3  # blocking reloads + parts: ~6 per viewer per second once joined
    # every part and playlist version reached the live origin about once (shields=1), however many viewers
    assert result["origin_media_requests_per_part_per_shield"] <= 1.1
    assert result["origin_playlist_requests_per_version_per_shield"] <= 1.1
    # ... and counted per object at the shield, not as a ratio: no part or version fetched twice
    assert result["origin_media_fetches_max_per_shield"] == result["origin_playlist_version_fetches_max_per_shield"] == 1
    assert result["origin_media_share_above_one"] == result["origin_playlist_version_share_above_one"] == 0.0
    assert result["origin_fetches_per_object"]["media"]["objects"] == result["origin_requests"]["media"]
    assert result["part_deliveries"] > 100 and result["part_delivery_p50_ms"] < 1000
    assert 0 < result["latency_to_live_median_s"] < 5
    assert result["loadgen_workers"][0]["cpu_share"] > 0
    # the generator's own cost is reported per request, so a size it cannot carry shows as such
    worker = result["loadgen_workers"][0]
    assert worker["requests"] == result["requests"] and worker["cpu_ms_per_request"] > 0
    assert result["loadgen_cpu_ms_per_request"] == pytest.approx(worker["cpu_ms_per_request"], rel=0.05)
