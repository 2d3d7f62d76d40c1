"""The predicted ladder: committed default model, skops allowlist, features, a real predicted ladder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from streamlab.models.ladder.predictor import DEFAULT_DIR, LadderPredictor, PredictorUnavailable
from streamlab.models.ladder.settings import load_ladder_settings
from streamlab.streaming.ffmpeg import run_ffmpeg
from streamlab.streaming.transcode.per_title.features import si_ti
from streamlab.streaming.transcode.per_title.optimize import optimize_ladder
from streamlab.streaming.transcode.per_title.source import inspect_source

OVERRIDES = ["segment_duration_s=1", "predictor.model_alias=absent-alias-for-tests", "rules.min_bitrate_kbps=20"]


def test_committed_default_model_loads_for_both_codecs() -> None:
    predictor = LadderPredictor.load(DEFAULT_DIR)
    assert set(predictor.card["codecs"]) == {"h264", "av1"}
    assert predictor.card["corpus_points"] > 100


def test_a_model_file_with_untrusted_types_is_refused(tmp_path: Path) -> None:
    import skops.io as sio

    copy = tmp_path / "model"
    shutil.copytree(DEFAULT_DIR, copy)
    sio.dump({"payload": Path("/etc/passwd")}, copy / "h264.rate.skops")  # a type outside the allowlist
    with pytest.raises(PredictorUnavailable, match="outside the allowlist"):
        LadderPredictor.load(copy)


def test_si_ti_rank_static_below_moving_content(tmp_path: Path) -> None:
    still, moving = tmp_path / "still.mp4", tmp_path / "moving.mp4"
    run_ffmpeg(
        ["-f", "lavfi", "-i", "smptebars=size=320x180:rate=25:duration=1", "-c:v", "libx264", "-qp", "0", still],
        "still",
    )
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=1,noise=alls=30:allf=t", "-c:v", "libx264", "-qp", "0", moving], "moving")  # fmt: skip
    _, ti_still = si_ti(inspect_source(still, 0.6), 10)
    _, ti_moving = si_ti(inspect_source(moving, 0.6), 10)
    assert max(ti_still) < 1.0 < min(ti_moving)


def test_predicted_ladder_is_cheap_and_well_formed(small_source: Path, mlflow_store: str) -> None:
    ladder = optimize_ladder(small_source, "predicted", "h264", OVERRIDES)
    assert ladder.method == "predicted" and ladder.rungs
    assert 0 < ladder.decision_cpu_s < 10
    assert [r.bitrate_kbps for r in ladder.rungs] == sorted((r.bitrate_kbps for r in ladder.rungs), reverse=True)
    assert len(ladder.rungs) >= 2
    assert all(
        r.expected_vmaf is not None and r.expected_vmaf <= load_ladder_settings().rules.top_vmaf + 1
        for r in ladder.rungs[1:]
    )
    # The top rung was encoded for real (verify.enabled): what it promises is what it measured.
    assert ladder.rungs[0].measured_vmaf is not None and ladder.rungs[0].expected_vmaf == ladder.rungs[0].measured_vmaf
    assert "top rung verified" in ladder.notes[-1]
    av1 = optimize_ladder(small_source, "predicted", "av1", OVERRIDES)
    assert all(r.encoder.encoder == "libsvtav1" for r in av1.rungs)
