"""The oracle delay bound (benchmarks/qoe_oracle.py) on hand-built days whose answers are worked out by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from benchmarks.qoe_oracle import bound_day, main
from streamlab.core.errors import UsageError

T0 = 1_000_000.0


def _beat(t: float, sid: str, startup: float | None, **dims: str) -> dict:
    return {"kind": "heartbeat", "session_id": sid, "timestamp": t, "startup_s": startup, **dims}


def _fail(t: float, sid: str, **dims: str) -> dict:
    return {"kind": "session_end", "session_id": sid, "timestamp": t, "outcome": "video_start_failure",
            "startup_s": None, **dims}


def _write(folder: Path, events: list[dict], incidents: list[dict]) -> tuple[Path, Path]:
    ev, lab = folder / "day0.jsonl", folder / "day0.labels.json"
    events = sorted(events, key=lambda e: e["timestamp"])
    ev.write_text("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events))
    lab.write_text(json.dumps({"incidents": incidents}))
    return ev, lab


def _population(n: int = 200, failures: int = 2) -> list[dict]:
    """Attempts before onset on the old version: 1% start failures, startups of about 2 s."""
    out = [_beat(T0 - 3000 + 10 * i, f"p{i}", 2.0, device_class="tv", app_version="1.0", edge="e0")
           for i in range(n - failures)]
    return out + [_fail(T0 - 50 - i, f"pf{i}", device_class="tv", app_version="1.0", edge="e0") for i in range(failures)]


CRASH = {"id": "d0-00-app_start_crash", "type": "app_start_crash", "dimension": "device_class*app_version",
         "value": "tv*9.9", "start": T0, "end": T0 + 600, "effect": {"rollout_share": 0.35, "vsf_prob": 0.5}}


def test_a_new_version_crashing_on_start_is_bounded_by_its_failures_counted_by_hand(tmp_path: Path) -> None:
    # p0 = the population's 1% (no history: all 60 pseudo-attempts); p1 = 0.01 + 0.5 * 0.99 = 0.505.
    # A failure is worth log(50.5) = 3.92 nats, a start log(0.495 / 0.99) = -0.69: three failures and a start
    # are 11.07 < 12, the fourth failure (at +40 s) makes 14.99.
    new = dict(device_class="tv", app_version="9.9", edge="e0")
    events = _population() + [_fail(T0 + 10 * k, f"n{k}", **new) for k in (1, 2, 3, 4, 5)]
    events.append(_beat(T0 + 25, "ok", 2.0, **new))
    events.append(_beat(T0 + 35, "ok", 2.1, **new))  # the same session's later beat is not a second attempt
    collapse = {"id": "d0-01-isp_collapse", "type": "isp_collapse", "dimension": "isp", "value": "x", "start": T0 + 700,
                "end": T0 + 900, "effect": {"tput_factor": 0.12}}
    ev, lab = _write(tmp_path, events, [CRASH, collapse])
    result = bound_day(ev, lab)
    (row,) = result["bounded"]  # the throughput incident has evidence in heartbeats: not bounded here
    assert row["delay_s"] == 40.0 and row["attempts_per_min"] == 0.6  # 5 failures and 1 start in 10 minutes
    assert result["incidents"] == 2 and result["mean_delay_lower_bound_s"] == 20.0
    assert 3 * math.log(50.5) + math.log(0.495 / 0.99) < 12 < 4 * math.log(50.5) + math.log(0.495 / 0.99)
    # A stricter bar needs the fifth failure.
    assert bound_day(ev, lab, bar=16.0)["bounded"][0]["delay_s"] == 50.0


def _drift_day(folder: Path, add_s: float, seed: int = 3) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    edge = dict(device_class="tv", app_version="1.0", edge="e1")
    before = [_beat(T0 - 7200 + 60 * i, f"b{i}", float(np.exp(rng.normal(0.7, 0.45))), **edge) for i in range(120)]
    during = [_beat(T0 + 30 * i, f"d{i}", float(np.exp(rng.normal(0.7, 0.45))) + add_s * 30 * i / 7200, **edge)
              for i in range(240)]
    drift = {"id": "d0-00-edge_drift", "type": "edge_drift", "dimension": "edge", "value": "e1", "start": T0,
             "end": T0 + 7200, "effect": {"startup_add_s": add_s, "ramp": 1.0}}
    return _write(folder, before + during, [drift])


def test_a_startup_drift_is_found_sooner_when_it_is_steeper(tmp_path: Path) -> None:
    (tmp_path / "steep").mkdir()
    (tmp_path / "gentle").mkdir()
    steep = bound_day(*_drift_day(tmp_path / "steep", 6.0))["bounded"][0]
    gentle = bound_day(*_drift_day(tmp_path / "gentle", 3.0))["bounded"][0]
    assert steep["delay_s"] is not None and gentle["delay_s"] is not None
    assert 0 < steep["delay_s"] < gentle["delay_s"] < 7200
    # The expected delay (outcomes redrawn from the fitted model at the same start times) agrees with the draw's.
    for row in (steep, gentle):
        assert row["p10_s"] <= row["expected_s"] <= row["p90_s"]
        assert abs(row["delay_s"] - row["expected_s"]) < 0.5 * row["expected_s"]
    assert steep["attempts_per_min"] == 2.0


def test_bad_input_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ev, lab = _write(tmp_path, _population(), [CRASH])
    with pytest.raises(UsageError, match="does not exist"):
        bound_day(tmp_path / "missing.jsonl", lab)
    (tmp_path / "bad.json").write_text("[1, 2]")
    assert main(["--events", str(ev), "--labels", str(tmp_path / "bad.json")]) == 2
    assert main(["--events", str(ev), "--labels", str(lab), "--bar", "0"]) == 2
    ev.write_text(ev.read_text() + "{not json\n")
    assert main(["--events", str(ev), "--labels", str(lab)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("error: ") for line in err)
    assert "day0.jsonl:201" in err[-1]
