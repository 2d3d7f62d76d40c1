"""``streamlab ladder optimize|evaluate`` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Result:
    exit_code: int
    output: str


def _cli(args: list[str]) -> Result:
    """Run ``streamlab`` as a user does (a process: errors become one line and exit code 2)."""
    done = subprocess.run([sys.executable, "-m", "streamlab.cli", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "STREAMLAB_PROGRESS": "0"})  # fmt: skip
    return Result(done.returncode, done.stdout + done.stderr)


TINY = ["segment_duration_s=1", "grid.h264.preset=ultrafast", "grid.h264.crf=[20,28,36]", "grid.heights=[120]"]


def test_optimize_fixed_writes_the_stack_ladder(small_source: Path, tmp_path: Path) -> None:
    out = tmp_path / "fixed.json"
    result = _cli(
        ["ladder", "optimize", str(small_source), "--method", "fixed", "--out", str(out), "segment_duration_s=1"]
    )
    assert result.exit_code == 0, result.output
    ladder = json.loads(out.read_text())
    assert ladder["method"] == "fixed" and ladder["rungs"][0]["encoder"]["preset"] == "veryfast"
    assert {r["width"] for r in ladder["rungs"]} == {320}  # a source below every box gets its own size


def test_unknown_method_is_one_clear_error(small_source: Path, tmp_path: Path) -> None:
    result = _cli(["ladder", "optimize", str(small_source), "--method", "magic", "--out", str(tmp_path / "x.json")])
    assert result.exit_code == 2 and "--method 'magic' is not one of: fixed, hull, predicted" in result.output


def test_acceptance_refuses_an_unknown_method_before_encoding_anything(tmp_path: Path) -> None:
    result = _cli(["ladder", "acceptance", "--method", "magic", "--out-dir", str(tmp_path), "--no-mlflow"])
    assert result.exit_code == 2 and "--method ['magic'] is not one of: default, shots" in result.output
    assert "Traceback" not in result.output and not any(tmp_path.iterdir())


def test_fixed_av1_is_refused(small_source: Path, tmp_path: Path) -> None:
    result = _cli(
        ["ladder", "optimize", str(small_source), "--method", "fixed", "--codec", "av1", "segment_duration_s=1"]
    )
    assert result.exit_code == 2 and "H.264 only" in result.output


def test_optimize_refuses_a_source_shorter_than_a_segment(small_source: Path, tmp_path: Path) -> None:
    result = _cli(["ladder", "optimize", str(small_source), "--method", "hull", "--out", str(tmp_path / "x.json")])
    assert result.exit_code == 2 and "shorter than one 4 s segment" in result.output
    assert not (tmp_path / "x.json").exists()


@pytest.mark.slow
def test_evaluate_writes_scores_plot_and_logs_to_mlflow(small_source: Path, tmp_path: Path, mlflow_store: str) -> None:
    out = tmp_path / "hull.json"
    assert _cli(["ladder", "optimize", str(small_source), "--out", str(out), *TINY]).exit_code == 0
    result = _cli(["ladder", "evaluate", str(small_source), "--ladder", str(out), *TINY])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "hull.eval.json").read_text())
    assert (tmp_path / "hull.rd.png").stat().st_size > 10_000
    hull = report["hull"]
    assert hull["fixed"] and hull["ladder"]
    for measured in hull["ladder"]:
        assert abs(measured["vmaf"] - measured["rung"]["expected_vmaf"]) < 6  # trials predict the rung
    # 320x180 is below every fixed box: the stack gives it one rung, and BD-rate needs two a curve.
    assert (
        len(hull["fixed"]) == 1 and hull["bd_rate_pct"] is None and "anchor curve has 1 useful points" in hull["note"]
    )


def test_acceptance_refuses_an_unknown_codec_with_one_line(tmp_path: Path) -> None:
    result = _cli(["ladder", "acceptance", "--codec", "vp9", "--out-dir", str(tmp_path), "--no-mlflow"])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and "vp9" in result.output and "Traceback" not in result.output
    assert not any(tmp_path.iterdir())  # refused before measuring anything
