"""``streamlab abr evaluate``: the files a user gets, and one-line errors for bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from streamlab.models.abr.errors import TraceFormatError, UnknownPolicyError, VideoSizeError
from streamlab.models.abr.evaluate import evaluate


@pytest.fixture()
def trace_dir(tmp_path: Path, few_traces, abr_dir: Path) -> Path:
    folder = tmp_path / "traces"
    folder.mkdir()
    for trace in few_traces[1:3]:
        shutil.copy(abr_dir / "train_traces" / trace.name, folder / trace.name)
    return folder


def _cli(*args: str, home: Path | None = None) -> subprocess.CompletedProcess:
    """``streamlab abr ...``; with ``home``, run from that folder as its project home (as an installed wheel would)."""
    env = None if home is None else {**os.environ, "STREAMLAB_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "streamlab.cli", "abr", *args], capture_output=True, text=True,
                          env=env, cwd=home)


def test_evaluate_writes_reference_logs_summary_and_plots(tmp_path, trace_dir, abr_dir):
    out = tmp_path / "out"
    evaluate(["bba", "robustmpc"], trace_dir, abr_dir / "video_sizes", out)
    names = sorted(p.name for p in trace_dir.iterdir())
    for policy in ["bba", "robustmpc"]:
        for name in names:
            rows = [line.split() for line in (out / f"log_{policy}_{name}").read_text().splitlines()]
            assert len(rows) == 48
            assert all(len(row) == 7 for row in rows)
            assert rows[0][1] == "750"
            assert all(float(r[1]) in (300, 750, 1200, 1850, 2850, 4300) for r in rows)
            assert (out / f"timeline_{policy}_{name}.png").stat().st_size > 1000
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"bba", "robustmpc"}
    for key in ("mean_qoe", "mean_bitrate_kbps", "rebuffer_ratio", "mean_switches"):
        assert isinstance(summary["bba"][key], float)
    assert (out / "qoe_cdf.png").stat().st_size > 1000


def test_summary_accumulates_policies_run_into_the_same_directory(tmp_path, trace_dir, abr_dir):
    out = tmp_path / "out"
    evaluate(["bba"], trace_dir, abr_dir / "video_sizes", out, plots=False)
    evaluate(["rate"], trace_dir, abr_dir / "video_sizes", out, plots=False)
    assert set(json.loads((out / "summary.json").read_text())) == {"bba", "rate"}


def test_log_reward_column_reproduces_the_summary_qoe(tmp_path, trace_dir, abr_dir):
    out = tmp_path / "out"
    result = evaluate(["bola"], trace_dir, abr_dir / "video_sizes", out, plots=False)
    per_trace = result.summary["bola"]["per_trace_qoe"]
    for name, qoe in per_trace.items():
        rewards = [float(line.split()[6]) for line in (out / f"log_bola_{name}").read_text().splitlines()]
        assert sum(rewards[1:]) / len(rewards[1:]) == pytest.approx(qoe)


def test_malformed_trace_fails_before_writing_anything(tmp_path, trace_dir, abr_dir):
    (trace_dir / "zz_broken").write_text("0.0 1.0\n1.0 2.0\n0.5 1.0\n")
    with pytest.raises(TraceFormatError, match=r"zz_broken:3"):
        evaluate(["bba"], trace_dir, abr_dir / "video_sizes", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_video_sizes_directory_is_named(tmp_path, trace_dir):
    with pytest.raises(VideoSizeError, match="nowhere"):
        evaluate(["bba"], trace_dir, tmp_path / "nowhere", tmp_path / "out")


def test_cli_unknown_policy_is_one_line_with_the_valid_names(tmp_path, trace_dir):
    result = _cli("evaluate", "--policy", "pensieve", "--traces", str(trace_dir), "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: unknown policy 'pensieve'; valid: bba, rate, bola, robustmpc, oracle, learned, or all"
    )


def test_cli_bad_trace_names_file_and_line(tmp_path, trace_dir):
    (trace_dir / "neg").write_text("0 1\n1 -3\n")
    result = _cli("evaluate", "--policy", "bba", "--traces", str(trace_dir), "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "neg:2: negative throughput" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("text", "needle"), [("", "empty:1: empty trace"), ("0 1\n1 nan\n", "empty:2: values must be finite")])
def test_cli_empty_or_nan_trace_is_one_error_line_naming_file_and_line(tmp_path, trace_dir, text, needle):
    (trace_dir / "empty").write_text(text)
    result = _cli("evaluate", "--policy", "bba", "--traces", str(trace_dir), "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]


def test_unknown_policy_raises_before_any_work(tmp_path, trace_dir, abr_dir):
    from streamlab.models.abr.registry import parse_policy_list

    with pytest.raises(UnknownPolicyError):
        parse_policy_list("bba,,nope")


def test_cli_without_the_default_chunk_sizes_is_one_runtime_error_naming_the_option(tmp_path, trace_dir):
    home = tmp_path / "elsewhere"
    home.mkdir()
    result = _cli("evaluate", "--policy", "bba", "--traces", str(trace_dir), "--out", str(tmp_path / "o"), home=home)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert str(home / "data" / "raw" / "abr" / "video_sizes") in lines[0] and "--video-sizes" in lines[0]


def test_cli_evaluates_outside_the_checkout_with_given_chunk_sizes_and_the_shipped_weights(tmp_path, trace_dir, abr_dir):
    home = tmp_path / "elsewhere"
    home.mkdir()
    out = tmp_path / "o"
    result = _cli("evaluate", "--policy", "bba,learned", "--traces", str(trace_dir), "--out", str(out),
                  "--video-sizes", str(abr_dir / "video_sizes"), "--no-plots", home=home)
    assert result.returncode == 0, result.stderr
    assert set(json.loads((out / "summary.json").read_text())) == {"bba", "learned"}
    assert "learned  QoE" in result.stdout
