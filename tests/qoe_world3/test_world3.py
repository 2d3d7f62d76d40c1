"""Kestrel (qoe_world3): a tiny day is deterministic, schema-valid, time-sorted, and its labels score."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.qoe_world import score
from benchmarks.qoe_world3.generate import generate_day
from benchmarks.qoe_world3.incidents import GRACE_S, INCIDENT_TYPES
from streamlab.models.qoe.schema_v2 import parse_event

TINY_SESSIONS = 300


@pytest.fixture(scope="module")
def tiny_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("world3")
    events, labels = folder / "day.jsonl", folder / "day.labels.json"
    generate_day(events, labels, seed=7, day=2, sessions=TINY_SESSIONS)
    return events, labels


def test_same_seed_and_day_give_the_same_bytes(tiny_day: tuple[Path, Path], tmp_path: Path) -> None:
    events, labels = tiny_day
    again, again_labels = tmp_path / "again.jsonl", tmp_path / "again.labels.json"
    generate_day(again, again_labels, seed=7, day=2, sessions=TINY_SESSIONS)
    assert again.read_bytes() == events.read_bytes()
    assert again_labels.read_text() == labels.read_text()


def test_every_event_passes_the_schema_v2_validator(tiny_day: tuple[Path, Path]) -> None:
    lines = tiny_day[0].read_text().splitlines()
    assert len(lines) > 5 * TINY_SESSIONS
    refused = [(n, reason) for n, line in enumerate(lines, 1) if (reason := parse_event(line)[1]) is not None]
    assert refused == []


def test_events_are_sorted_by_timestamp_and_each_session_ends_once(tiny_day: tuple[Path, Path]) -> None:
    events = [json.loads(line) for line in tiny_day[0].read_text().splitlines()]
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)
    ends = [e["session_id"] for e in events if e["kind"] == "session_end"]
    assert len(ends) == len(set(ends)) == len({e["session_id"] for e in events})
    assert len({e["event_id"] for e in events}) == len(events)


def test_labels_load_in_the_shared_scorer_and_incidents_never_overlap(tiny_day: tuple[Path, Path],
                                                                      tmp_path: Path) -> None:
    no_alerts = tmp_path / "alerts.jsonl"
    no_alerts.write_text("")
    days, summary = score.score_files([(no_alerts, tiny_day[1])])
    assert summary["incidents"] == len(INCIDENT_TYPES) and summary["detected"] == 0
    labels = json.loads(tiny_day[1].read_text())
    assert labels["day"] == 2 and {i["type"] for i in labels["incidents"]} == set(INCIDENT_TYPES)
    slotted = sorted((i["start"], i["end"]) for i in labels["incidents"] + labels["decoys"][:4])
    assert all(end + GRACE_S <= nxt for (_, end), (nxt, _) in zip(slotted, slotted[1:]))


def test_bad_run_arguments_and_a_failing_detector_are_one_error_line(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.qoe_world3 import run

    for argv in (["--seeds", "a"], ["--seeds", ","], ["--seeds", "1", "--sessions", "0"]):
        with pytest.raises(SystemExit) as exc:
            run.main([*argv, "--work", str(tmp_path)])
        assert exc.value.code == 2
        assert "error:" in capsys.readouterr().err
    assert run.main(["--seeds", "1", "--sessions", "20", "--model", "nope", "--work", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: detect failed on ") and "no detector at 'nope'" in err[0]
