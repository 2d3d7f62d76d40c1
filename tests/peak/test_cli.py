"""``streamlab peak`` and ``stream serve --edge``: bad input is one ``error:`` line and exit 1/2, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamlab.cli import run


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["stream", "serve", "--edge", "nginx"], 2, "unknown edge engine 'nginx': use one of python, varnish"),
    (["peak", "run", "--edge", "squid", "--no-track"], 2, "edge: Input should be 'python' or 'varnish'"),
    (["peak", "run", "--viewers", "lots", "--no-track"], 2, "--viewers 'lots': expected a number"),
    (["peak", "run", "--viewers", "0", "--no-track"], 2, "every size must be at least 1"),
    (["peak", "simulate", "--from", "/nonexistent/results.json", "--no-track"], 2, "not a readable results.json"),
    (["peak", "run", "--fault", "disk:5", "--no-track"], 2, "bad fault 'disk:5'"),
])
def test_bad_input_is_one_error_line(argv: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(argv) == code
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and message in err and "Traceback" not in err


def test_a_stopped_channel_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STREAMLAB_HOME", str(tmp_path))
    (tmp_path / ".state" / "live" / "gone").mkdir(parents=True)
    (tmp_path / ".state" / "live" / "gone" / "state.json").write_text(json.dumps({"state": "stopped"}))
    assert run(["peak", "run", "--no-track", "channel.synthetic=false", "channel.name=gone", "crowd.viewers=1"]) == 2
    assert "live channel 'gone' is stopped" in capsys.readouterr().err


def test_simulate_predicts_every_size_and_writes_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["peak", "simulate", "--no-track", f"results_dir={tmp_path}", "simulate.parts=2"]) == 0
    out = capsys.readouterr().out
    assert all(f"{n:>9} viewers" in out for n in (10_000, 100_000, 1_000_000, 10_000_000))
    payload = json.loads(next(tmp_path.glob("simulate-*/results.json")).read_text())[0]
    assert [row["viewers"] for row in payload["predictions"]] == [10_000, 100_000, 1_000_000, 10_000_000]
