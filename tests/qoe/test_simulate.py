"""The simulator: valid telemetry, ground truth that matches the SPEC, incidents that show in the data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from streamlab.models.qoe.errors import IncidentSpecError
from streamlab.models.qoe.ingest import read_events
from streamlab.training.qoe.incidents import parse_spec
from streamlab.training.qoe.population import Population


def test_every_simulated_event_passes_validation(events_file):
    result = read_events(events_file)
    assert result.rejects == [] and result.accepted > 10_000


def test_events_are_in_time_order_and_labels_sit_beside_them(events_file):
    stamps = [json.loads(line)["timestamp"] for line in events_file.read_text().splitlines()[:5000]]
    assert stamps == sorted(stamps)
    labels = json.loads((events_file.parent / "events.labels.json").read_text())
    assert [(i["kind"], i["dimension"], i["value"]) for i in labels["incidents"]] == [
        ("edge_collapse", "edge", "eu-west-2"), ("broken_encode", "title", "t001"), ("region_collapse", "region", "us-east")]


def test_edge_collapse_raises_stalls_on_that_edge_only(three_hours):
    hb = three_hours.heartbeats
    inc = three_hours.incidents[0]
    during = hb[(hb.timestamp > inc.start_s + 120) & (hb.timestamp < inc.end_s)]
    low = during.groupby("edge")["buffer_s"].apply(lambda b: float((b < 1.0).mean()))
    assert low.idxmax() == "eu-west-2" and low["eu-west-2"] > 3 * low.drop("eu-west-2").max()


def test_broken_encode_fails_most_starts_of_that_title(three_hours):
    se = three_hours.summaries
    inc = three_hours.incidents[1]
    window = se[(se.started_at >= inc.start_s) & (se.started_at < inc.end_s)]
    hit = window[window.title_id == inc.value]
    assert hit.playback_failed.mean() > 0.6 and window[window.title_id != inc.value].playback_failed.mean() < 0.05


def test_same_seed_same_events(small_settings, library):
    from streamlab.training.qoe.simulate import simulate

    a = simulate(small_settings, 3, 0.01, "none", library)
    b = simulate(small_settings, 3, 0.01, "none", library)
    assert a.heartbeats.equals(b.heartbeats) and a.summaries.equals(b.summaries)


@pytest.mark.parametrize(("spec", "message"), [
    ("meteor_strike", "unknown incident kind"),
    ("edge_collapse(mars-1)", "unknown edge"),
    ("app_bug@25:00", "not a time of day"),
    ("app_bug+0m", "must be positive"),
    ("app_bug@noon", "expected KIND"),
])
def test_bad_spec_is_refused_with_what_would_be_valid(small_settings, spec, message):
    population = Population.from_settings(small_settings.population)
    with pytest.raises(IncidentSpecError, match=message):
        parse_spec(spec, population, small_settings.incidents, np.random.default_rng(0), 0.0, 86400.0)


def test_compact_spec_places_incidents_where_asked(small_settings):
    population = Population.from_settings(small_settings.population)
    incidents = parse_spec("region_collapse(ap-south)@1/06:30+40m;app_bug(tv)@90m+1h", population,
                           small_settings.incidents, np.random.default_rng(0), 0.0, 2 * 86400.0)
    assert [(i.value, i.start_s, i.end_s) for i in incidents] == [
        ("tv", 5400.0, 9000.0), ("ap-south", 86400.0 + 6.5 * 3600, 86400.0 + 6.5 * 3600 + 2400)]


def test_random_mix_is_seeded_and_non_overlapping(small_settings):
    population = Population.from_settings(small_settings.population)
    draw = lambda seed: parse_spec(None, population, small_settings.incidents, np.random.default_rng(seed), 0.0, 86400.0)  # noqa: E731
    first = draw(1)
    assert first == draw(1) and 3 <= len(first) <= 6
    spans = sorted((i.start_s, i.end_s) for i in first)
    assert all(b[0] >= a[1] for a, b in zip(spans, spans[1:], strict=False))


def test_incident_file_spec(small_settings, tmp_path):
    path = tmp_path / "incidents.yaml"
    path.write_text("- {kind: broken_encode, value: t000, start: '10:00', duration: 20m}\n- {kind: app_bug}\n")
    population = Population.from_settings(small_settings.population)
    incidents = parse_spec(str(path), population, small_settings.incidents, np.random.default_rng(0), 0.0, 86400.0)
    assert {i.kind for i in incidents} == {"broken_encode", "app_bug"}
