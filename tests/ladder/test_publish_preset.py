"""Published rungs encode at the publish preset and options; trials (grid, hull, predictor, per-shot grid) at the
trial preset, without the options.

Convex-hull estimation at a fast preset and the final encode at a slower one is established
practice (the hull's shape moves little between presets); the published top rung is then measured
at the publish preset by the top-rung verification, which corrects the trial -> publish offset.
The same holds for publish-only encoder options (``grid.av1.publish_params``): the predictor's grid
stays what it was trained on, no corpus rebuild.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from streamlab.core.config import ConfigError
from streamlab.models.ladder.decide import LadderDecideRequest, decide, ladder_from_points, predicted_points
from streamlab.models.ladder.features import TitleFeatures
from streamlab.models.ladder.predictor import DEFAULT_DIR, LadderPredictor
from streamlab.models.ladder.settings import load_ladder_settings
from streamlab.streaming.transcode.encoder_args import codec_args, rung_video_args
from streamlab.streaming.transcode.per_title.source import inspect_source
from streamlab.streaming.transcode.per_title.trials import build_grid
from streamlab.streaming.transcode.per_title.verify import verify_spec

FEATURES = TitleFeatures(width=1280, height=720, fps=25.0, si_mean=60.0, si_p90=80.0, si_max=95.0, ti_mean=12.0,
                         ti_p90=20.0, ti_max=30.0, probe_bpp=0.05, probe_psnr_y=38.0, probe_qp_p=28.0,
                         probe_ip_ratio=3.0, cpu_s=1.0)  # fmt: skip
SPLIT = ["grid.av1.preset=8", "grid.av1.publish_preset=5", "grid.h264.preset=veryfast", "grid.h264.publish_preset=slow"]


def _preset(args: list[str]) -> str:
    return args[args.index("-preset") + 1]


def test_the_committed_config_publishes_av1_slower_than_it_trials() -> None:
    av1 = load_ladder_settings().grid.av1
    assert av1.publish_preset is not None and int(av1.publish_preset) < int(av1.preset)


def test_predicted_rungs_carry_the_publish_preset_and_predicted_trials_the_trial_preset() -> None:
    settings = load_ladder_settings(SPLIT)
    predictor = LadderPredictor.load(DEFAULT_DIR)
    request = LadderDecideRequest(features=FEATURES, codecs=["h264", "av1"], segment_duration_s=4.0)
    h264, av1 = decide(request, predictor, settings).ladders
    assert {r.encoder.preset for r in av1.rungs} == {"5"} and {r.encoder.preset for r in h264.rungs} == {"slow"}
    # what the model predicted is the trial grid: the trial preset
    assert {p.encoder.preset for p in predicted_points(predictor, FEATURES, "av1", settings)} == {"8"}
    # the stack's FFmpeg arguments for a published rung carry the publish preset
    assert _preset(rung_video_args(av1.rungs[0], gop_frames=100, segment_duration_s=4.0)) == "5"
    # no publish preset: the trial preset is published, as before
    same = decide(request, predictor, load_ladder_settings(["grid.av1.preset=8", "grid.av1.publish_preset=null"]))
    assert {r.encoder.preset for r in same.ladders[1].rungs} == {"8"}


def test_hull_rungs_carry_the_publish_preset(small_source: Path, tmp_path: Path) -> None:
    settings = load_ladder_settings([*SPLIT, "segment_duration_s=1"])
    facts = inspect_source(small_source, 1.0)
    specs = build_grid(facts, "av1", settings, tmp_path)
    assert {s.encoder.preset for s in specs} == {"8"}  # trials encode at the trial preset
    points = predicted_points(LadderPredictor.load(DEFAULT_DIR), FEATURES, "av1", settings)
    ladder = ladder_from_points(points, "av1", settings.rules, source="x", segment_duration_s=1.0, method="hull",
                                publish_preset=settings.grid.av1.published_preset)  # fmt: skip
    assert {r.encoder.preset for r in ladder.rungs} == {"5"}


def test_the_top_rung_is_verified_at_the_publish_preset_and_full_frame_rate(small_source: Path, tmp_path: Path) -> None:
    settings = load_ladder_settings([*SPLIT, "segment_duration_s=1", "grid.vmaf_subsample=3"])
    facts = inspect_source(small_source, 1.0)
    predictor = LadderPredictor.load(DEFAULT_DIR)
    request = LadderDecideRequest(features=FEATURES, codecs=["av1"], segment_duration_s=1.0)
    top = decide(request, predictor, settings).ladders[0].rungs[0]
    spec = verify_spec(facts, top, 30.0, small_source, settings, tmp_path)
    assert spec.encoder.preset == "5" and spec.encoder.crf == 30.0
    assert spec.vmaf_subsample == 1  # what the viewer gets is scored on every frame, as the acceptance scores it


@pytest.mark.parametrize("override", ["grid.av1.publish_preset=14", "grid.h264.publish_preset=glacial"])
def test_a_bad_publish_preset_is_one_clear_error(override: str) -> None:
    with pytest.raises(ConfigError, match="publish_preset"):
        load_ladder_settings([override])


def _svt_params(args: list[str]) -> dict[str, str]:
    return dict(kv.split("=", 1) for kv in args[args.index("-svtav1-params") + 1].split(":"))


def test_published_av1_rungs_carry_the_publish_params_and_trials_do_not(small_source: Path, tmp_path: Path) -> None:
    """Quantisation matrices (grid.av1.publish_params) are a publish-only option: the trials, the hull and the
    predictor's grid stay as trained, the published rungs and the verification of the top rung get them."""
    settings = load_ladder_settings(["segment_duration_s=1"])
    params = settings.grid.av1.publish_params
    assert params.get("enable-qm") == "1"  # the committed config: -3.3..-6.1% bits at equal VMAF, no CPU
    request = LadderDecideRequest(features=FEATURES, codecs=["h264", "av1"], segment_duration_s=1.0)
    h264, av1 = decide(request, LadderPredictor.load(DEFAULT_DIR), settings).ladders
    assert all(r.encoder.params == params for r in av1.rungs)
    assert all(r.encoder.params == settings.grid.h264.publish_params for r in h264.rungs)  # each codec its own
    published = _svt_params(rung_video_args(av1.rungs[0], gop_frames=25, segment_duration_s=1.0))
    assert {k: published[k] for k in params} == params
    assert published["irefresh-type"] == "2" and published["scd"] == "0"  # the GOP keys stay the stack's
    facts = inspect_source(small_source, 1.0)
    assert verify_spec(facts, av1.rungs[0], 30.0, small_source, settings, tmp_path).encoder.params == params
    for spec in build_grid(facts, "av1", settings, tmp_path):
        trial = codec_args(spec.encoder, gop_frames=spec.gop_frames, segment_duration_s=1.0, threads=1)
        assert "enable-qm" not in _svt_params(trial)


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ("grid.av1.publish_params={keyint: 50}", "may not set 'keyint'"),
        ("grid.av1.publish_params={scd: 1}", "may not set 'scd'"),
        ("grid.av1.publish_params={enable-qm: '1:keyint=9'}", "not an SVT-AV1 key=value"),
        ("grid.h264.publish_params={keyint: 50}", "may not set 'keyint'"),
        ("grid.h264.publish_params={no-scenecut: 1}", "may not set 'no-scenecut'"),
        ("grid.h264.publish_params={min_keyint: 5}", "may not set 'min_keyint'"),
        ("grid.h264.publish_params={stitchable: 0}", "may not set 'stitchable'"),
        ("grid.h264.publish_params={psy-rd: '0:keyint=9'}", "not an x264 key=value"),
    ],
)
def test_a_bad_publish_param_is_one_clear_error(override: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        load_ladder_settings([override])
