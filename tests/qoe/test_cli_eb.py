"""``streamlab qoe world`` and ``qoe detect --model eb`` as a user runs them (issue 19)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from streamlab.cli import app

runner = CliRunner()


def test_a_v2_day_is_written_detected_and_evaluated_end_to_end(tmp_path) -> None:
    events = tmp_path / "day.jsonl"
    made = runner.invoke(app, ["qoe", "world", "--out", str(events), "--seed", "3", "--sessions", "600", "--titles", "30"])
    assert made.exit_code == 0, made.output
    labels = json.loads((tmp_path / "day.labels.json").read_text())
    assert labels["schema_version"] == 2 and labels["incidents"]
    with events.open("a") as handle:  # a bad line and a duplicate are refused and counted, not fatal
        handle.write('{"schema_version": 7, "kind": "heartbeat"}\n' + events.read_text().splitlines()[5] + "\n")
    alerts = tmp_path / "alerts.jsonl"
    # no --model: a schema-v2 file is read by the eb detector (the sequence detector refuses every v2 event)
    detected = runner.invoke(app, ["qoe", "detect", "--events", str(events), "--out", str(alerts)])
    assert detected.exit_code == 0, detected.output
    assert detected.output.startswith("schema v2 events: the eb detector")
    counts = json.loads(detected.output.splitlines()[1].removeprefix("eb: "))
    assert counts["unknown schema_version"] == 1 and counts["duplicate"] == 1
    judged = runner.invoke(app, ["qoe", "evaluate", "--events", str(events), "--alerts", str(alerts)])
    assert judged.exit_code == 0, judged.output
    assert '"incidents"' in judged.output


def test_detect_eb_on_a_parquet_file_is_one_clear_error(tmp_path) -> None:
    path = tmp_path / "x.parquet"
    path.write_bytes(b"PAR1")
    from streamlab.models.qoe.errors import TelemetryError

    result = runner.invoke(app, ["qoe", "detect", "--events", str(path), "--model", "eb"])
    assert result.exit_code != 0  # `streamlab` itself prints it as one `error:` line and exits 2 (a UsageError)
    assert isinstance(result.exception, TelemetryError) and "reads JSONL" in str(result.exception)


def test_a_misspelt_model_lists_eb_among_the_choices(tmp_path) -> None:
    """``--model ebb`` is one error that names every detector ``qoe detect`` takes: the registry's list alone left out
    eb, the one a v2 file wants."""
    events = tmp_path / "day.jsonl"
    made = runner.invoke(app, ["qoe", "world", "--out", str(events), "--seed", "3", "--sessions", "50", "--titles", "20"])
    assert made.exit_code == 0, made.output
    from streamlab.models.qoe.errors import DetectorError

    result = runner.invoke(app, ["qoe", "detect", "--events", str(events), "--model", "ebb"])
    assert result.exit_code != 0
    assert isinstance(result.exception, DetectorError), result.output
    assert "no detector at 'ebb'" in str(result.exception) and str(result.exception).endswith("or eb (schema v2)")


def test_a_world_with_too_few_titles_is_refused_by_name(tmp_path) -> None:
    """``qoe world --titles 5`` was an IndexError (the flash-crowd decoy draws one of titles 5-19)."""
    result = runner.invoke(app, ["qoe", "world", "--out", str(tmp_path / "d.jsonl"), "--titles", "5"])
    assert result.exit_code == 2 and "--titles" in result.output, result.output
    assert not (tmp_path / "d.jsonl").exists()
