"""The acceptance report's measuring (issue 21) on synthetic measurements: BD-quality, the rate at the fixed
rungs' quality, one table row, held-out handling, and the evaluation-only curve."""

from __future__ import annotations

import math

import pytest

from streamlab.models.ladder.bdrate import BDRateError, bd_quality, rate_at_anchor_quality
from streamlab.models.ladder.cost import CostSettings
from streamlab.models.ladder.dynamic import Shot, ShotOption, shot_ladder
from streamlab.models.ladder.grid import encoder_for
from streamlab.models.ladder.schema import Ladder, LadderRung
from streamlab.models.ladder.settings import RuleSettings
from streamlab.training.ladder.evaluate import LadderEvaluation, MeasuredRung
from streamlab.training.ladder.shot_report import acceptance_table, averages, codec_row, comparison_rules

CURVE = [(200.0, 70.0), (400.0, 80.0), (800.0, 88.0), (1600.0, 94.0)]


def test_bd_quality_is_the_vmaf_gap_at_equal_bitrate() -> None:
    better = [(r, q + 2.0) for r, q in CURVE]
    assert bd_quality(CURVE, better) == pytest.approx(2.0, abs=1e-6)
    assert bd_quality(better, CURVE) == pytest.approx(-2.0, abs=1e-6)
    with pytest.raises(BDRateError, match="share no bitrate range"):
        bd_quality(CURVE, [(r * 100, q) for r, q in CURVE])


def test_rate_at_anchor_quality_reads_the_test_curve_at_each_anchor_point() -> None:
    half = [(r / 2, q) for r, q in CURVE]
    assert rate_at_anchor_quality([(400.0, 80.0)], half) == pytest.approx(-50.0, abs=1e-6)
    # an anchor point outside the test curve's range says nothing
    assert rate_at_anchor_quality([(400.0, 80.0), (5000.0, 99.0)], half) == pytest.approx(-50.0, abs=1e-6)
    with pytest.raises(BDRateError, match="no anchor point"):
        rate_at_anchor_quality([(5000.0, 99.0)], half)


def measured(points: list[tuple[float, float]], shot_vmaf: list[list[float]] | None = None) -> list[MeasuredRung]:
    out = []
    for i, (kbps, vmaf) in enumerate(points):
        rung = LadderRung(width=640, height=360, codec="h264", bitrate_kbps=kbps,
                          encoder=encoder_for("h264", "slow", None, 23.0), expected_vmaf=vmaf)  # fmt: skip
        out.append(MeasuredRung(rung=rung, bitrate_kbps=kbps, vmaf=vmaf, vmaf_p5=vmaf, psnr_y=40, ssim=0.98,
                                encode_cpu_s=1.0, shot_vmaf=shot_vmaf[i] if shot_vmaf else None))  # fmt: skip
    return out


def evaluation(ladder: list[MeasuredRung], fixed: list[MeasuredRung], bd: float | None) -> LadderEvaluation:
    return LadderEvaluation(source="x.mp4", ladder=ladder, fixed=fixed, bd_rate_pct=bd, shared_vmaf_range=None,
                            ladder_encode_cpu_s=1.0, fixed_encode_cpu_s=1.0)  # fmt: skip


def row(
    shot_vmaf: list[list[float]], fixed_points: list[tuple[float, float]], bd: float | None, **kw: object
) -> dict:
    fixed = measured(fixed_points)
    shots = evaluation(measured(CURVE, shot_vmaf), fixed, bd)
    predicted = evaluation(measured([(r, q - 1.0) for r, q in CURVE]), fixed, None)
    return codec_row(shots, predicted, shots_cpu_s=100.0, hull_cpu_s=80.0, predicted_cpu_s=5.0, top_vmaf=95.0,
                     jnd_vmaf=6.0, cost=CostSettings(), **kw)  # fmt: skip


def test_codec_row_checks_the_worst_shot_the_ceiling_and_the_predicted_gap() -> None:
    good = row([[q - 1, q + 1] for _, q in CURVE], [(3000.0, 96.0), (1500.0, 90.0)], -35.0)
    assert good["worst_shot_ok"] and good["bd_basis"] == "published" and good["bd_rate_pct"] == -35.0
    assert not good["top_vmaf_ok"]  # fixed reaches 96, the shot ladder stops at 94
    assert good["predicted_bd_vmaf_vs_shots"] == pytest.approx(-1.0, abs=1e-6)
    assert good["predicted_cpu_share_of_shots"] == pytest.approx(0.05)
    assert good["cpu_ratio_shots_vs_hull"] == pytest.approx(1.25)
    bad = row([[q - 7, q + 7] for _, q in CURVE], [(3000.0, 93.0), (1500.0, 90.0)], -35.0)
    assert not bad["worst_shot_ok"] and max(bad["worst_shot_below_mean"]) == pytest.approx(7.0)
    assert bad["top_vmaf_ok"]  # the fixed ladder does not reach 95 either: not owed


def test_codec_row_falls_back_to_the_rate_at_the_fixed_rungs_quality() -> None:
    one_rung_fixed = row([[q] for _, q in CURVE], [(800.0, 80.0)], None)
    assert one_rung_fixed["bd_basis"] == "at fixed rungs' quality"
    assert one_rung_fixed["bd_rate_pct"] == pytest.approx(-50.0, abs=1e-6)


def test_table_reports_the_held_out_clip_apart_and_averages_the_rest() -> None:
    a = row([[q] for _, q in CURVE], [(3000.0, 96.0), (1500.0, 90.0)], -40.0)
    b = row([[q] for _, q in CURVE], [(3000.0, 96.0), (1500.0, 90.0)], -20.0)
    held = row([[q] for _, q in CURVE], [(3000.0, 96.0), (1500.0, 90.0)], -90.0)
    summary = {"a": {"h264": a}, "b": {"h264": b}, "held": {"h264": held}}
    assert averages(summary, "held")["h264"] == pytest.approx(-30.0)
    table = acceptance_table(summary, "held")
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    assert lines[-1].startswith("| held (held out) | h264 | -90.0%")
    assert "Mean BD-rate vs fixed, h264, clips other than the held-out one: -30.0%" in table


def test_comparison_curve_has_more_rungs_and_reaches_higher_than_the_published_ladder() -> None:
    shots = [Shot(start_s=2.0 * i, duration_s=2.0, frames=50, options=tuple(
        ShotOption(crf=c, kbps=60 * 2 ** (-(c - 18) / 6) * (1 + i), vmaf=min(99.0, 98 - 1.2 * (c - 18) - 2 * i))
        for c in (18, 23, 28, 33, 38))) for i in range(3)]  # fmt: skip
    rules = RuleSettings(top_vmaf=95, min_bitrate_kbps=50, lowest_throughput_kbps=40)
    kw = dict(preset="slow", tune=None, jnd_vmaf=6.0, crf_step=1.0)
    published = shot_ladder({(320, 180): shots}, rules, "h264", **kw)
    curve = shot_ladder({(320, 180): shots}, comparison_rules(rules), "h264", **kw)
    assert len(curve) > len(published)
    # the best every shot reaches at CRF 18 (98, 96, 94 pooled), above the published ceiling rung
    assert max(r.expected_vmaf for r in curve) == pytest.approx(96.0, abs=0.01)
    assert max(r.expected_vmaf for r in published) < 95.5
    assert min(r.bitrate_kbps for r in curve) < rules.min_bitrate_kbps  # no rate window: a curve, not a ladder
    assert all(not math.isnan(r.bitrate_kbps) for r in curve)
    Ladder(source="x", method="shots", codec="h264", segment_duration_s=2.0, rungs=curve)  # a valid ladder


def test_holding_a_clip_out_holds_out_the_synthetics_made_from_its_frames(tmp_path) -> None:  # noqa: ANN001
    """zoom_bikes is a zoom over one bikes frame: a model that saw it has seen bikes."""
    import json

    from streamlab.models.ladder.features import TitleFeatures
    from streamlab.training.ladder.corpus import CorpusEntry, CorpusSource, load_corpus
    from streamlab.training.ladder.train import rows_by_codec

    features = TitleFeatures(width=512, height=288, fps=25, si_mean=40, si_p90=45, si_max=50, ti_mean=4, ti_p90=5,
                             ti_max=6, probe_bpp=0.1, probe_psnr_y=40, probe_qp_p=26, probe_ip_ratio=3,
                             cpu_s=0.1)  # fmt: skip
    point = {"width": 512, "height": 288, "encoder": encoder_for("h264", "slow", None, 23.0).model_dump(),
             "bitrate_kbps": 500.0, "vmaf": 90.0, "vmaf_p5": 88.0, "psnr_y": 40.0, "ssim": 0.98, "encode_cpu_s": 1.0,
             "measure_cpu_s": 1.0}  # fmt: skip
    entries = [CorpusEntry(source=CorpusSource(name=name, group=name, path=f"/x/{name}.mp4"), codec="h264",
                           features=features, points=[point]).model_dump()
               for name in ("zoom_bikes", "testsrc2")]  # fmt: skip
    path = tmp_path / "corpus.json"
    path.write_text(json.dumps(entries))
    loaded = load_corpus(path)
    assert {e.source.name: e.source.group for e in loaded} == {"zoom_bikes": "bikes", "testsrc2": "testsrc2"}
    x, _, _ = rows_by_codec(loaded, exclude_group="bikes")["h264"]
    assert len(x) == 1  # only testsrc2's point is left to train on


def test_the_default_methods_ladder_is_scored_and_tabled_as_ingest_publishes_it() -> None:
    """The table answers what the maintainers run: the committed per_title_method's ladder, not only shots."""
    from streamlab.training.ladder.shot_report import default_row, default_table

    fixed = measured([(3000.0, 96.0), (1500.0, 90.0), (600.0, 80.0)])
    points = measured([(1400.0, 94.6), (700.0, 88.0), (300.0, 78.0)])
    ladder = Ladder(source="x", method="predicted", codec="h264", segment_duration_s=2.0,
                    rungs=[points[0].rung.model_copy(update={"measured_vmaf": 95.2}), points[1].rung],
                    decision_cpu_s=7.5, notes=["top rung verified"])  # fmt: skip
    miss = default_row(evaluation(points, fixed, -40.0), ladder, method="predicted", top_vmaf=95.0, jnd_vmaf=6.0)
    assert miss["bd_rate_pct"] == -40.0 and miss["bd_basis"] == "published"
    assert not miss["top_vmaf_ok"]  # published 94.6 although the verification measured 95.2: a miss all the same
    assert miss["top_vmaf"] == {"fixed": 96.0, "default": 94.6, "verified": 95.2} and miss["cpu_s"] == 7.5
    no_shared = default_row(evaluation(points, fixed, None), ladder, method="predicted", top_vmaf=95.0, jnd_vmaf=6.0)
    assert no_shared["bd_basis"] == "at fixed rungs' quality" and no_shared["bd_rate_pct"] is not None
    ok = default_row(evaluation(measured([(1400.0, 95.3), (700.0, 88.0)]), fixed, -60.0), ladder,
                     method="predicted", top_vmaf=95.0, jnd_vmaf=6.0)  # fmt: skip
    summary = {"a": {"h264": {"default": miss}}, "b": {"h264": {"default": ok}}, "held": {"h264": {"default": ok}}}
    assert averages(summary, "held", "default")["h264"] == pytest.approx(-50.0)
    table = default_table(summary, "held")
    assert "`per_title_method: predicted`" in table
    assert "| a | h264 | -40.0% (published) | 96.0 / 94.6 (95.2) (miss) |" in table
    assert [line.split(" | ")[0] for line in table.splitlines() if line.startswith("| ") and "---" not in line][-1] \
        == "| held (held out)"
    assert "Mean BD-rate vs fixed, default method, h264, clips other than the held-out one: -50.0%" in table
    assert acceptance_table(summary, "held") == table  # no shot-based rows measured: only the default table


def test_a_measured_per_title_rung_is_named_by_what_it_measured_a_fixed_one_by_its_target() -> None:
    """As ingest publishes them (``name_by_measurement``): a report read ``720p_av1_1196k`` at 820 kbit/s."""
    planned = LadderRung(width=1280, height=720, codec="av1", bitrate_kbps=1196.0,
                         encoder=encoder_for("av1", "5", None, 40.0))  # fmt: skip
    m = MeasuredRung(rung=planned, bitrate_kbps=820.4, vmaf=90.0, vmaf_p5=85.0, psnr_y=40, ssim=0.98, encode_cpu_s=1.0)
    assert (planned.id, m.id) == ("720p_av1_1196k", "720p_av1_820k")
    assert m.model_copy(update={"named_by_target": True}).id == "720p_av1_1196k"
    fixed = measured([(3000.0, 96.0)])[0].model_copy(update={"bitrate_kbps": 2710.0, "named_by_target": True})
    row_ = codec_row(evaluation([m], [fixed], None), evaluation([m], [fixed], None), shots_cpu_s=1.0, hull_cpu_s=1.0,
                     predicted_cpu_s=1.0, top_vmaf=95.0, jnd_vmaf=6.0, cost=CostSettings())  # fmt: skip
    assert row_["rungs"]["shots"][0][0] == "720p_av1_820k" and row_["rungs"]["fixed"][0][0] == "360p_3000k"
