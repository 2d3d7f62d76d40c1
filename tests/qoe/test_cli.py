"""``streamlab qoe`` as a user runs it."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from pipelines.cli import _typer_app as app

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

    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "qoe", "simulate", "--out", str(tmp_path / "e.jsonl"),
                           "--incidents", "flood"], capture_output=True, text=True)
    assert done.returncode == 2 and "error: unknown incident kind 'flood'" in done.stderr
