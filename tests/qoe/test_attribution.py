"""Attribution names the most specific dimension: an edge that carries its region's drop, a region when all its edges drop.

Constructed windows (units built by hand, scored by the committed default detector) pin the rule;
``test_detect.py`` and the held-out evaluation check it on simulated scenarios.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from streamlab.models.qoe.windows import COUNT_COLUMNS, UNIT_COLUMNS
from streamlab.training.qoe.registry import load_model

WINDOWS = 30
COLLAPSE = ("low_tput", "tput_collapse", "low_buffer", "stall", "bad_score")


@pytest.fixture(scope="module")
def model():
    return load_model(None)


def _units(model, region: str, edges: list[str], bad_edges: set[str], bad_from: int, per_window: int = 20,
           titles: tuple[str, ...] = ("t000", "t001", "t002", "t003"), devices: tuple[str, ...] = ("tv", "web", "ios", "android")
           ) -> tuple[pd.DataFrame, int, int]:
    """Healthy heartbeats on every edge of ``region``; from window ``bad_from`` the ``bad_edges`` collapse."""
    w0 = 1_767_600_000 // int(model.detection.window_s)
    rows = []
    for w in range(WINDOWS):
        for edge in edges:
            for k in range(per_window):
                unit = dict.fromkeys(COUNT_COLUMNS, 0)
                unit.update(timestamp=(w0 + w) * model.detection.window_s + k, window=w0 + w, region=region, edge=edge,
                            title=titles[k % len(titles)], device=devices[(k // len(titles)) % len(devices)], hb=1, scored=1)
                if edge in bad_edges and w >= bad_from:
                    unit.update(dict.fromkeys(COLLAPSE, 1))
                rows.append(unit)
    units = pd.DataFrame(rows, columns=list(UNIT_COLUMNS)).sort_values("timestamp", kind="stable").reset_index(drop=True)
    return units, w0 + model.lookback, w0 + WINDOWS - 1


def _causes(model, units, first, last):
    return {(c.dimension, c.value) for c in model.window_causes(units, first, last)}


def test_one_collapsed_edge_is_named_not_its_region(model):
    units, first, last = _units(model, "eu-west", ["eu-west-1", "eu-west-2", "eu-west-3"], {"eu-west-2"}, bad_from=20)
    causes = _causes(model, units, first, last)
    assert ("edge", "eu-west-2") in causes
    assert ("region", "eu-west") not in causes


def _region_alone_flagged(model, units, last, region):
    """Attribute ``last`` as if the detector had flagged only the region (its edge scored just under threshold).

    That is what happens on real days: the region's forecast residual can cross the threshold in a
    window where the edge's does not, and then the region is the only candidate.
    """
    groups, seqs, scores, _, _ = model.grid_scores(units, last, last)
    span = units[units["window"] >= last - model.lookback].reset_index(drop=True)
    ri = groups.index(("region", region))
    return {(c.dimension, c.value) for c in model.attribute(last, [ri], groups, seqs[:, 0, -1], scores[:, 0], span)}


def test_a_flagged_region_whose_drop_one_edge_carries_is_relabelled_to_that_edge(model):
    units, _, last = _units(model, "eu-west", ["eu-west-1", "eu-west-2", "eu-west-3"], {"eu-west-2"}, bad_from=20)
    assert _region_alone_flagged(model, units, last, "eu-west") == {("edge", "eu-west-2")}


def test_a_flagged_region_whose_edges_all_dropped_stays_the_region(model):
    edges = ["eu-west-1", "eu-west-2", "eu-west-3"]
    units, _, last = _units(model, "eu-west", edges, set(edges), bad_from=20)
    assert _region_alone_flagged(model, units, last, "eu-west") == {("region", "eu-west")}


def test_every_edge_collapsing_is_the_region_not_its_edges(model):
    edges = ["eu-west-1", "eu-west-2", "eu-west-3"]
    units, first, last = _units(model, "eu-west", edges, set(edges), bad_from=20)
    causes = _causes(model, units, first, last)
    assert ("region", "eu-west") in causes
    assert not [c for c in causes if c[0] == "edge"]


def test_a_region_served_by_one_edge_stays_a_region(model):
    units, first, last = _units(model, "ap-south", ["ap-south-1"], {"ap-south-1"}, bad_from=20)
    causes = _causes(model, units, first, last)
    assert ("region", "ap-south") in causes and ("edge", "ap-south-1") not in causes


def test_unseen_region_and_edge_names_are_attributed_the_same_way(model):
    units, first, last = _units(model, "eu-west-demo", ["edge-1", "edge-2"], {"edge-1"}, bad_from=20,
                                titles=("bbb",), devices=("desktop-chrome", "mobile-safari"))
    causes = _causes(model, units, first, last)
    assert ("edge", "edge-1") in causes and ("region", "eu-west-demo") not in causes


def test_healthy_windows_name_no_cause(model):
    units, first, last = _units(model, "eu-west", ["eu-west-1", "eu-west-2", "eu-west-3"], set(), bad_from=WINDOWS)
    assert _causes(model, units, first, last) == set()


def test_streaming_accepts_groups_never_seen_in_training(model):
    """Real players in the demo report their own names; they are scored against the pooled baselines."""
    from streamlab.models.qoe.streaming import StreamingDetector

    stream = StreamingDetector(model)
    t0 = 1_767_600_000.0
    events = [{"kind": "heartbeat", "viewer_id": f"v{i}", "session_id": f"s{i}", "title_id": "bbb",
               "timestamp": t0 + 5.0 * k + 0.01 * i, "device": "desktop-chrome", "region": "eu-west", "edge": "edge-1",
               "playhead_s": 5.0 * k, "buffer_s": 12.0, "bitrate_kbps": 1850.0, "throughput_kbps": 4000.0,
               "startup_s": 1.2, "rebuffer_count": 0, "rebuffer_s": 0.0, "bitrate_switches": 0, "errors": 0}
              for k in range(1, 40) for i in range(5)]
    scored, alerts = stream.ingest(events)
    assert all(s.accepted for s in scored), [s.reason for s in scored if not s.accepted][:3]
    assert ("edge", "edge-1") in stream.groups and ("device", "desktop-chrome") in stream.groups
    assert any(s.group_scores for s in scored[-5:])
    assert alerts == [] and stream.flush() == []
    assert np.isfinite(stream.model.baselines.rates_for([("edge", "edge-1")])).all()


def _attribute_only(model, units, last, group, ongoing):
    groups, seqs, scores, _, _ = model.grid_scores(units, last, last)
    span = units[units["window"] >= last - model.lookback].reset_index(drop=True)
    causes = model.attribute(last, [groups.index(group)], groups, seqs[:, 0, -1], scores[:, 0], span, ongoing=ongoing)
    return {(c.dimension, c.value) for c in causes}


def test_an_open_alert_explains_a_device_whose_bad_sessions_are_all_in_it(model):
    edges = ["eu-west-1", "eu-west-2", "eu-west-3"]
    units, _, last = _units(model, "eu-west", edges, set(edges), bad_from=20)
    assert _attribute_only(model, units, last, ("device", "tv"), set()) == {("device", "tv")}
    assert _attribute_only(model, units, last, ("device", "tv"), {("region", "eu-west")}) == set()


def test_an_unrelated_open_alert_explains_nothing(model):
    edges = ["eu-west-1", "eu-west-2", "eu-west-3"]
    units, _, last = _units(model, "eu-west", edges, set(edges), bad_from=20)
    assert _attribute_only(model, units, last, ("device", "tv"), {("region", "us-east")}) == {("device", "tv")}
