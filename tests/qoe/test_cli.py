"""``streamlab qoe`` as a user runs it."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from streamlab.cli import app

runner = CliRunner()


def test_simulate_writes_events_and_labels(tmp_path, library, monkeypatch):
    from tests.qoe.conftest import SMALL

    out = tmp_path / "ev.jsonl"
    result = runner.invoke(app, ["qoe", "simulate", "--out", str(out), "--seed", "2", "--days", "0.02",
                                 "--incidents", "app_bug(tv)@5m+10m", *SMALL])
    assert result.exit_code == 0, result.output
    labels = json.loads((tmp_path / "ev.labels.json").read_text())
    assert labels["incidents"][0]["value"] == "tv" and out.stat().st_size > 0


def test_bad_incident_spec_is_one_line_error(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "streamlab.cli", "qoe", "simulate", "--out", str(tmp_path / "e.jsonl"),
                           "--incidents", "flood"], capture_output=True, text=True)
    assert done.returncode == 2 and "error: unknown incident kind 'flood'" in done.stderr


def test_detect_then_evaluate_from_files(events_file, tmp_path):
    out = tmp_path / "alerts.jsonl"
    result = runner.invoke(app, ["qoe", "detect", "--events", str(events_file), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().strip()
    result = runner.invoke(app, ["qoe", "evaluate", "--events", str(events_file), "--alerts", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[: result.output.index("}") + 1])
    assert summary["incidents"] == 3 and summary["found"] >= 2


def test_detect_reports_rejects_beside_the_alerts(events_file, tmp_path):
    bad = tmp_path / "mixed.jsonl"
    bad.write_text(events_file.read_text() + "{broken\n" + '{"kind": "heartbeat"}\n')
    result = runner.invoke(app, ["qoe", "detect", "--events", str(bad), "--out", str(tmp_path / "alerts.jsonl")])
    assert result.exit_code == 0, result.output
    assert "rejected 2 event(s)" in result.output
    assert len((tmp_path / "alerts.rejects.jsonl").read_text().splitlines()) == 2


def test_detect_as_a_stream_raises_the_batch_alerts(events_file, tmp_path):
    batch, stream = tmp_path / "batch.jsonl", tmp_path / "stream.jsonl"
    for mode, out in (("batch", batch), ("stream", stream)):
        result = runner.invoke(app, ["qoe", "detect", "--events", str(events_file), "--out", str(out), "--mode", mode])
        assert result.exit_code == 0, result.output
    assert "stream: " in result.output and " 0 rejected" in result.output

    def keys(path):
        return [(a["dimension"], a["value"], a["start"], a["detected_at"])
                for a in map(json.loads, path.read_text().splitlines())]

    assert keys(stream) == keys(batch) and keys(batch)
